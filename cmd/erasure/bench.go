package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/sqldb"
	"github.com/erasure-dev/erasure/internal/wmjs"
	"github.com/erasure-dev/erasure/service"
)

// tempDataDir is --data's default for bench: a fresh temporary directory.
const tempDataDir = "(a new temporary directory)"

// benchResult is the last line bench prints (DESIGN §5 "Benchmark").
type benchResult struct {
	Persons          int     `json:"persons"`
	Faces            int     `json:"faces"`
	Photos           int     `json:"photos"`
	PermissionGroups int     `json:"permission_groups"`
	Mode             string  `json:"mode"`
	SeedSeconds      float64 `json:"seed_seconds"`
	Seconds          float64 `json:"seconds"`
	PersonsPerS      float64 `json:"persons_per_s"`
	P50ms            float64 `json:"p50_ms"`
	P99ms            float64 `json:"p99_ms"`
	FloorSeconds     float64 `json:"floor_seconds"`
	Ratio            float64 `json:"ratio"`
	StatusP99ms      float64 `json:"status_p99_ms"`
	ReplayEvents     uint64  `json:"replay_events"`
	ReplayEventsPerS float64 `json:"replay_events_per_s"`
	PeakRSSMB        float64 `json:"peak_rss_mb"`
	// ReplayPersons is how many persons' histories the replay rebuilt (every person in the log).
	ReplayPersons     int     `json:"replay_persons"`
	ReplayPersonsPerS float64 `json:"replay_persons_per_s"`
	// CPU time and bytes written per person while deleting: steadier than wall time on a
	// shared machine, so a change's effect shows across runs.
	CPUmsPerPerson   float64 `json:"cpu_ms_per_person"`
	WriteKBPerPerson float64 `json:"write_kb_per_person"`
	// The deletion's cost in counts (issue 16), from the bulk request until the deletion is
	// terminal, per person. EventsPerPerson: messages appended to the stream (chunks, dispatch
	// and batch records included). DeliveriesPerPerson: messages every consumer of the log
	// received, redeliveries included (counted in the client: see events.Delivered), split by
	// durable consumer in DeliveriesByConsumer ("followers": the projection's and any other
	// ordered consumer). SQLStatementsPerPerson: statements run on the read model, key store and
	// stores databases; SQLTransactionsPerPerson: transactions begun (sqldb.Executed). The
	// status polls of the bench itself (one every 50 ms) are in the SQL counts and the allocations.
	EventsPerPerson          float64            `json:"events_per_person"`
	DeliveriesPerPerson      float64            `json:"deliveries_per_person"`
	DeliveriesByConsumer     map[string]float64 `json:"deliveries_per_person_by_consumer"`
	SQLStatementsPerPerson   float64            `json:"sql_statements_per_person"`
	SQLTransactionsPerPerson float64            `json:"sql_transactions_per_person"`
	// AllocsPerPerson: heap allocations (runtime.MemStats.Mallocs); GCCPUmsPerPerson: CPU time
	// the garbage collector took (runtime/metrics /cpu/classes/gc/total:cpu-seconds).
	AllocsPerPerson  float64 `json:"allocs_per_person"`
	GCCPUmsPerPerson float64 `json:"gc_cpu_ms_per_person"`
}

func benchCmd(args []string, stdout, stderr io.Writer) error {
	if wantsLoad(args) {
		return loadCmd(args, stdout, stderr) // load.go
	}
	var persons, faces, photos, perms int
	var keep bool
	var cpuProfile string
	var intake, single int
	cfg, err := parse("bench", "Runs the whole system in-process, seeds N persons through the batched internal path (not timed),\n"+
		"deletes them all in one bulk request end to end, measures the plain-SQL floor and a replay in the same run,\n"+
		"and prints one JSON line last. Without --data it works in a fresh temporary directory.\n"+
		"With --intake or --single it measures that instead (see the flags).",
		args, stderr, func(c *config.Config, fs *flag.FlagSet) {
			c.StoreFlags(fs)
			fs.IntVar(&persons, "persons", 10000, "persons to seed and delete")
			fs.IntVar(&faces, "faces", 3, "face records per person (at most 5)")
			fs.IntVar(&photos, "photos", 2, "registration photos per person (at most --faces)")
			fs.IntVar(&perms, "permission-groups", 2, "permission groups each person is bound to")
			fs.BoolVar(&keep, "keep", false, "keep the temporary data directory")
			fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the deletion phase to this file")
			fs.IntVar(&intake, "intake", 0, "instead: stream N IDs of persons that need not exist as one text/plain request over HTTP,\nand report the intake rate and the time until every item is terminal")
			fs.IntVar(&single, "single", 0, "instead: seed N persons, then delete them one at a time with N sequential Tencent DeletePerson\ncalls over loopback HTTP, signed as the official Tencent Cloud SDK signs them (TC3-HMAC-SHA256),\nand report each call's latency as the SDK's caller sees it (p50, p99, max)")
			c.DataDir = tempDataDir
		})
	if err != nil {
		return err
	}
	switch {
	case persons < 1:
		return fmt.Errorf("--persons must be at least 1")
	case faces < 0 || faces > 5:
		return fmt.Errorf("--faces must be 0..5")
	case photos < 0 || photos > faces:
		return fmt.Errorf("--photos must be 0..--faces")
	case perms < 0 || perms > 100:
		return fmt.Errorf("--permission-groups must be 0..100")
	}
	if cfg.DataDir == tempDataDir {
		if cfg.DataDir, err = os.MkdirTemp("", "erasure-bench-"); err != nil {
			return err
		}
		if !keep {
			defer os.RemoveAll(cfg.DataDir)
		}
	}
	cfg.HTTPAddr = "127.0.0.1:0"
	if single > 0 {
		singleConfig(&cfg) // bench_single.go
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := cfg.Logger()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	svc, err := service.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer svc.Close()
	if err := svc.WaitCaughtUp(ctx); err != nil {
		return err
	}
	if intake > 0 {
		return intakeBench(ctx, svc, intake, stdout)
	}
	if single > 0 {
		return singleBench(ctx, svc, cfg, single, faces, photos, perms, stdout)
	}
	res := benchResult{Persons: persons, Faces: faces, Photos: photos, PermissionGroups: perms, Mode: mode(cfg)}
	run := events.NewID()[:8] // fresh IDs, so a kept --data can run again
	meta := events.Meta{CorrelationID: "bench-" + run, Actor: "bench"}
	start := time.Now()
	ids, err := benchSeed(ctx, svc, logger, meta, run, persons, faces, photos, perms)
	if err != nil {
		return err
	}
	res.SeedSeconds = time.Since(start).Seconds()
	logger.Info("bench: seeded", "persons", persons, "seconds", res.SeedSeconds)

	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	cost0, err := measureCost(ctx, svc)
	if err != nil {
		return err
	}
	start = time.Now()
	cpu0, written0 := processCPU(), processWritten()
	id, _, err := svc.App.RequestDeletion(ctx, meta, app.DeletionInput{IDs: func(yield func(string) bool) error {
		for _, id := range ids {
			if !yield(id) {
				break
			}
		}
		return nil
	}})
	if err != nil {
		return err
	}
	last := time.Now()
	var statusLat []time.Duration // GET /v1/deletions/{id} as the bulk runs
	for {
		t0 := time.Now()
		d, err := svc.App.GetDeletion(ctx, id)
		if err != nil {
			return err
		}
		statusLat = append(statusLat, time.Since(t0))
		if d.State != "running" {
			if d.Deleted != persons {
				return fmt.Errorf("bench: %d of %d persons deleted (%d failed)", d.Deleted, persons, d.Failed)
			}
			break
		}
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			done := d.Total - d.Pending
			logger.Info("bench: deleting", "done", done, "of", persons, "persons_per_s", float64(done)/time.Since(start).Seconds())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	res.Seconds = time.Since(start).Seconds()
	res.CPUmsPerPerson = (processCPU() - cpu0).Seconds() * 1000 / float64(persons)
	res.WriteKBPerPerson = float64(processWritten()-written0) / 1024 / float64(persons)
	cost1, err := measureCost(ctx, svc)
	if err != nil {
		return err
	}
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	cost1.sub(cost0).perPerson(&res, persons)
	logger.Info("bench: deliveries per person by consumer", "split", res.DeliveriesByConsumer)
	res.PersonsPerS = float64(persons) / res.Seconds
	lat, err := svc.App.DeletionLatencies(ctx, id)
	if err != nil {
		return err
	}
	res.P50ms, res.P99ms = percentileMS(lat, 0.50), percentileMS(lat, 0.99)
	res.StatusP99ms = percentileMS(statusLat, 0.99)

	if res.FloorSeconds, err = sqlFloor(ctx, svc, persons, faces, perms); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	res.Ratio = res.Seconds / res.FloorSeconds
	if err := replayBench(ctx, svc, &res); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	res.PeakRSSMB = peakRSSMB()
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(line))
	return err
}

// benchSeed creates perms permission groups and persons persons bound to them, each with faces
// face records (photos of them with a photo), through the batched internal path, and returns the
// persons' IDs once the read model has them all.
func benchSeed(ctx context.Context, svc *service.Service, logger *slog.Logger, meta events.Meta, run string,
	persons, faces, photos, perms int) ([]string, error) {
	permIDs := make([]string, perms)
	for i := range permIDs {
		permIDs[i] = fmt.Sprintf("bench-%s-pg%d", run, i)
		if _, err := svc.App.CreatePermissionGroup(ctx, meta, permIDs[i], permIDs[i], "bench"); err != nil {
			return nil, fmt.Errorf("create permission group: %w", err)
		}
	}
	img := benchPhoto()
	ids := make([]string, persons)
	const seedBatch = 1000
	for from := 0; from < persons; from += seedBatch {
		batch := make([]app.SeedPerson, 0, seedBatch)
		for i := from; i < min(from+seedBatch, persons); i++ {
			ids[i] = fmt.Sprintf("b%s-%07d", run, i)
			p := app.SeedPerson{Name: "Bench Person", Registration: app.Registration{PersonID: ids[i], PermissionGroupIDs: permIDs}}
			for f := range faces {
				rec := app.FaceRecord{FaceID: events.NewID(), PhotoKey: events.NewID(), Feature: []byte{byte(f), 1, 2, 3}}
				if f < photos {
					rec.Photo = img
				}
				p.Faces = append(p.Faces, rec)
			}
			batch = append(batch, p)
		}
		if err := svc.App.Seed(ctx, meta, batch); err != nil {
			return nil, err
		}
		if (from/seedBatch)%10 == 9 {
			logger.Info("bench: seeding", "persons", from+len(batch), "of", persons)
		}
	}
	// seeding ends when the read model has it all
	return ids, svc.WaitCaughtUp(ctx)
}

func mode(cfg config.Config) string {
	n, d := "embedded-nats", "sqlite"
	if cfg.NATSURL != "" {
		n = "nats"
	}
	if cfg.DatabaseURL != "" {
		d = "postgres"
	}
	return n + "+" + d
}

func benchPhoto() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range 256 {
		img.Set(i%16, i/16, color.RGBA{uint8(i), uint8(255 - i), 90, 255})
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

func percentileMS(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := min(len(ds)-1, int(p*float64(len(ds))))
	return float64(ds[i].Microseconds()) / 1000
}

// sqlFloor is the baseline: the same rows (faces, permission bindings, persons) deleted by plain
// SQL in one transaction, in scratch tables of the same database.
func sqlFloor(ctx context.Context, svc *service.Service, persons, faces, perms int) (float64, error) {
	db := svc.DBs.Stores
	stmts := []string{
		`DROP TABLE IF EXISTS bench_floor_faces`, `DROP TABLE IF EXISTS bench_floor_bindings`, `DROP TABLE IF EXISTS bench_floor_persons`,
		`CREATE TABLE bench_floor_persons (person_id TEXT PRIMARY KEY, name TEXT NOT NULL)`,
		`CREATE TABLE bench_floor_faces (face_id TEXT PRIMARY KEY, person_id TEXT NOT NULL, feature BYTEA)`,
		`CREATE INDEX bench_floor_faces_person ON bench_floor_faces (person_id)`,
		`CREATE TABLE bench_floor_bindings (person_id TEXT NOT NULL, permission_group_id TEXT NOT NULL, PRIMARY KEY (person_id, permission_group_id))`,
	}
	if svc.DBs.Dialect == sqldb.SQLite {
		for i := range stmts {
			stmts[i] = strings.ReplaceAll(stmts[i], "BYTEA", "BLOB")
		}
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return 0, err
		}
	}
	defer func() {
		for _, t := range []string{"bench_floor_faces", "bench_floor_bindings", "bench_floor_persons"} {
			_, _ = db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+t)
		}
	}()
	err := sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
		for from := 0; from < persons; from += 200 {
			var p, f, b []string
			var pa, fa, ba []any
			for i := from; i < min(from+200, persons); i++ {
				id := "f" + strconv.Itoa(i)
				p, pa = append(p, "(?, ?)"), append(pa, id, "Bench Person")
				for j := range faces {
					f, fa = append(f, "(?, ?, ?)"), append(fa, id+"-"+strconv.Itoa(j), id, []byte{1, 2, 3})
				}
				for j := range perms {
					b, ba = append(b, "(?, ?)"), append(ba, id, "g"+strconv.Itoa(j))
				}
			}
			for _, ins := range []struct {
				q    string
				rows []string
				args []any
			}{
				{"INSERT INTO bench_floor_persons VALUES ", p, pa},
				{"INSERT INTO bench_floor_faces VALUES ", f, fa},
				{"INSERT INTO bench_floor_bindings VALUES ", b, ba},
			} {
				if len(ins.rows) == 0 {
					continue
				}
				if _, err := tx.ExecContext(ctx, tx.Rebind(ins.q+strings.Join(ins.rows, ",")), ins.args...); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	err = sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
		for _, q := range []string{
			`DELETE FROM bench_floor_bindings WHERE person_id IN (SELECT person_id FROM bench_floor_persons)`,
			`DELETE FROM bench_floor_faces WHERE person_id IN (SELECT person_id FROM bench_floor_persons)`,
			`DELETE FROM bench_floor_persons`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	return time.Since(start).Seconds(), err
}

// replayBench rebuilds every read model from the whole log into fresh tables and swaps them in,
// as erasure replay does beside a running service, and reports the rates: events, and persons
// (every person with events in the log, those of earlier runs on a kept --data included).
func replayBench(ctx context.Context, svc *service.Service, res *benchResult) error {
	persons, err := svc.Log.Aggregates(ctx, events.AggregatePerson)
	if err != nil {
		return err
	}
	sum, err := svc.Rebuild(ctx)
	if err != nil {
		return err
	}
	res.ReplayEvents, res.ReplayEventsPerS = sum.Events, sum.EventsPerS
	res.ReplayPersons = persons
	if sum.Seconds > 0 {
		res.ReplayPersonsPerS = float64(persons) / sum.Seconds
	}
	return nil
}

// cost is a reading of the counters behind the deletion's cost figures.
type cost struct {
	lastSeq    uint64            // the stream's last sequence
	delivered  uint64            // messages received by the log's consumers in this process
	byConsumer map[string]uint64 // the server's count per durable consumer
	sql        sqldb.Counts
	mallocs    uint64
	gcCPU      float64 // seconds
}

func measureCost(ctx context.Context, svc *service.Service) (cost, error) {
	var c cost
	var err error
	if c.lastSeq, err = svc.Log.LastSequence(ctx); err != nil {
		return c, err
	}
	if c.byConsumer, err = svc.Log.ConsumerDeliveries(ctx); err != nil {
		return c, err
	}
	c.delivered = events.Delivered() + wmjs.Delivered()
	c.sql = sqldb.Executed()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	c.mallocs = ms.Mallocs
	gc := []rtmetrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	rtmetrics.Read(gc)
	if gc[0].Value.Kind() == rtmetrics.KindFloat64 {
		c.gcCPU = gc[0].Value.Float64()
	}
	return c, nil
}

// sub is what was counted between before and c. A durable consumer created meanwhile counts
// from zero.
func (c cost) sub(before cost) cost {
	d := cost{lastSeq: c.lastSeq - before.lastSeq, delivered: c.delivered - before.delivered, sql: c.sql.Sub(before.sql),
		mallocs: c.mallocs - before.mallocs, gcCPU: c.gcCPU - before.gcCPU, byConsumer: map[string]uint64{}}
	for name, n := range c.byConsumer {
		d.byConsumer[name] = n - min(n, before.byConsumer[name])
	}
	return d
}

func (c cost) perPerson(res *benchResult, persons int) {
	per := func(n float64) float64 { return n / float64(persons) }
	res.EventsPerPerson = per(float64(c.lastSeq))
	res.DeliveriesPerPerson = per(float64(c.delivered))
	res.SQLStatementsPerPerson = per(float64(c.sql.Statements))
	res.SQLTransactionsPerPerson = per(float64(c.sql.Transactions))
	res.AllocsPerPerson = per(float64(c.mallocs))
	res.GCCPUmsPerPerson = per(c.gcCPU * 1000)
	res.DeliveriesByConsumer = map[string]float64{}
	var durable uint64
	for name, n := range c.byConsumer {
		durable += n
		res.DeliveriesByConsumer[name] = math.Round(per(float64(n))*100) / 100
	}
	res.DeliveriesByConsumer["followers"] = math.Round(per(float64(c.delivered-min(durable, c.delivered)))*100) / 100
}

// processCPU is the process's user and system time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processWritten is how many bytes the process has caused to be written to storage (Linux).
func processWritten() uint64 {
	n, _ := strconv.ParseUint(procField("/proc/self/io", "write_bytes:"), 10, 64)
	return n
}

// peakRSSMB is the process's peak resident set size (VmHWM).
func peakRSSMB() float64 {
	kb, _ := strconv.ParseFloat(strings.TrimSuffix(procField("/proc/self/status", "VmHWM:"), " kB"), 64)
	return kb / 1024
}

// procField is the value after key on its line of a /proc file, trimmed; "" where there is none.
func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// intakeResult is the last line of `erasure bench --intake N`.
type intakeResult struct {
	IDs             int     `json:"ids"`
	IntakeSeconds   float64 `json:"intake_seconds"`
	IntakeIDsPerS   float64 `json:"intake_ids_per_s"`
	TerminalSeconds float64 `json:"terminal_seconds"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
}

// intakeBench streams n IDs through the native API, as a client with a file of IDs would.
func intakeBench(ctx context.Context, svc *service.Service, n int, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<16)
		for i := range n {
			fmt.Fprintf(bw, "intake-%09d\n", i)
		}
		_ = bw.Flush()
		_ = pw.Close()
	}()
	start := time.Now()
	resp, err := http.Post("http://"+ln.Addr().String()+"/v1/deletions", "text/plain", pr)
	if err != nil {
		return err
	}
	var out struct {
		DeletionID string `json:"deletion_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("intake: HTTP %d: %v", resp.StatusCode, err)
	}
	res := intakeResult{IDs: n, IntakeSeconds: time.Since(start).Seconds()}
	res.IntakeIDsPerS = float64(n) / res.IntakeSeconds
	for {
		d, err := svc.App.GetDeletion(ctx, out.DeletionID)
		if err != nil {
			return err
		}
		if d.State != "running" {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	res.TerminalSeconds = time.Since(start).Seconds()
	res.PeakRSSMB = peakRSSMB()
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(line))
	return err
}
