package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/service"
)

// Population is what a bench seeds before it deletes: PermissionGroups permission groups, and
// Persons persons bound to all of them, each with Faces face records, the first Photos of them
// with a registration photo. The fields are `erasure bench`'s flags of the same names, and
// Validate's messages name those flags.
type Population struct {
	Persons          int
	Faces            int
	Photos           int
	PermissionGroups int
}

// Validate says which flag to change when p cannot be seeded: at most 5 faces a person (as
// Tencent allows), photos only of faces, and permission groups bounded so that one person's
// bindings stay one small event.
func (p Population) Validate() error {
	switch {
	case p.Persons < 1:
		return errors.New("--persons must be at least 1")
	case p.Faces < 0 || p.Faces > 5:
		return errors.New("--faces must be 0..5")
	case p.Photos < 0 || p.Photos > p.Faces:
		return errors.New("--photos must be 0..--faces")
	case p.PermissionGroups < 0 || p.PermissionGroups > 100:
		return errors.New("--permission-groups must be 0..100")
	}
	return nil
}

// DeletionOptions configure Deletion.
type DeletionOptions struct {
	Population
	// Mode is reported as is in DeletionResult.Mode: see Mode.
	Mode string
	// CPUProfile, when set, receives a CPU profile of the deletion phase alone (from the bulk
	// request until the deletion is terminal).
	CPUProfile io.Writer
	// ReplayCPUProfile, when set, receives a CPU profile of the replay phase alone.
	ReplayCPUProfile io.Writer
	// AllocsSeeded and AllocsDeleted, when set, receive the heap profile (allocations since the
	// process started) at the deletion phase's start and at its end: the difference
	// (go tool pprof -sample_index=alloc_objects -base seeded bin deleted) is the deletion's.
	AllocsSeeded, AllocsDeleted io.Writer
	// Logger reports progress every few seconds; nil discards it.
	Logger *slog.Logger
}

func (o *DeletionOptions) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// DeletionResult is the last line `erasure bench` prints (DESIGN §5 "Benchmark"). Its JSON
// names are a contract: docs/performance.md and earlier runs' notes cite them.
type DeletionResult struct {
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
	// CatchUpSeconds is how long after the deletion's end the durable consumers off its path
	// took to receive and acknowledge everything it appended; the cost figures count their work.
	CatchUpSeconds   float64 `json:"catch_up_seconds"`
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

// Deletion seeds opts.Population into svc (an open service, caught up), deletes every person
// in one bulk request, polling its status as a client would, and times it until the deletion is
// terminal; then it measures the plain-SQL floor of the same rows and a replay of the whole
// log. It fails unless every person was deleted. The persons' IDs are fresh each run, so a kept
// data directory can run it again.
func Deletion(ctx context.Context, svc *service.Service, opts DeletionOptions) (DeletionResult, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return DeletionResult{}, err
	}
	persons, logger := opts.Persons, opts.Logger
	res := DeletionResult{Persons: persons, Faces: opts.Faces, Photos: opts.Photos, PermissionGroups: opts.PermissionGroups, Mode: opts.Mode}
	run := events.NewID()[:8]
	caller := app.Caller{RequestID: "bench-" + run, Actor: "bench"}
	start := time.Now()
	ids, err := seed(ctx, svc, logger, caller, run, opts.Population)
	if err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	res.SeedSeconds = time.Since(start).Seconds()
	logger.Info("bench: seeded", "persons", persons, "seconds", res.SeedSeconds)
	// The seeding's backlog (the webhook intake reads every event) is not the deletion's cost.
	if err := waitConsumersCaughtUp(ctx, svc, logger); err != nil {
		return res, err
	}

	if err := writeAllocs(opts.AllocsSeeded); err != nil {
		return res, err
	}
	if opts.CPUProfile != nil {
		if err := pprof.StartCPUProfile(opts.CPUProfile); err != nil {
			return res, fmt.Errorf("start the CPU profile: %w", err)
		}
		// Stopped as soon as the deletion is terminal; this covers the error paths before.
		defer pprof.StopCPUProfile()
	}
	cost0, err := measureCost(ctx, svc)
	if err != nil {
		return res, fmt.Errorf("read the cost counters: %w", err)
	}
	start = time.Now()
	cpu0, written0 := processCPU(), processWritten()
	id, _, err := svc.App.RequestDeletion(ctx, caller, app.DeletionInput{IDs: func(yield func(string) bool) error {
		for _, id := range ids {
			if !yield(id) {
				break
			}
		}
		return nil
	}})
	if err != nil {
		return res, fmt.Errorf("request the deletion: %w", err)
	}
	last := time.Now()
	var statusLat []time.Duration // GET /v1/deletions/{id} as the bulk runs
	for {
		t0 := time.Now()
		d, err := svc.App.GetDeletion(ctx, id)
		if err != nil {
			return res, fmt.Errorf("deletion %s: %w", id, err)
		}
		statusLat = append(statusLat, time.Since(t0))
		if d.State != "running" {
			if d.Deleted != persons {
				return res, fmt.Errorf("bench: %d of %d persons deleted (%d failed)", d.Deleted, persons, d.Failed)
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
			return res, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	res.Seconds = time.Since(start).Seconds()
	// The cost figures include the work the deletion queued for consumers off its path (the
	// webhook intake reads every event): read once each durable consumer has caught up, not
	// while one lags by a varying share of the run.
	caughtUp := time.Now()
	if err := waitConsumersCaughtUp(ctx, svc, logger); err != nil {
		return res, err
	}
	res.CatchUpSeconds = time.Since(caughtUp).Seconds()
	res.CPUmsPerPerson = (processCPU() - cpu0).Seconds() * 1000 / float64(persons)
	res.WriteKBPerPerson = float64(processWritten()-written0) / 1024 / float64(persons)
	cost1, err := measureCost(ctx, svc)
	if err != nil {
		return res, fmt.Errorf("read the cost counters: %w", err)
	}
	if opts.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	if err := writeAllocs(opts.AllocsDeleted); err != nil {
		return res, err
	}
	cost1.sub(cost0).perPerson(&res, persons)
	logger.Info("bench: deliveries per person by consumer", "split", res.DeliveriesByConsumer)
	res.PersonsPerS = float64(persons) / res.Seconds
	lat, err := svc.App.DeletionLatencies(ctx, id)
	if err != nil {
		return res, fmt.Errorf("deletion %s latencies: %w", id, err)
	}
	res.P50ms, res.P99ms = percentileMS(lat, 0.50), percentileMS(lat, 0.99)
	res.StatusP99ms = percentileMS(statusLat, 0.99)

	if res.FloorSeconds, err = sqlFloor(ctx, svc, opts.Population); err != nil {
		return res, fmt.Errorf("floor: %w", err)
	}
	res.Ratio = res.Seconds / res.FloorSeconds
	if err := replay(ctx, svc, &res, opts.ReplayCPUProfile); err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	res.PeakRSSMB = peakRSSMB()
	return res, nil
}

// seed creates p's permission groups and persons through the batched internal path, and
// returns the persons' IDs once the read model has them all. run makes the IDs unique to this
// run.
func seed(ctx context.Context, svc *service.Service, logger *slog.Logger, caller app.Caller, run string, p Population) ([]string, error) {
	permIDs := make([]string, p.PermissionGroups)
	for i := range permIDs {
		permIDs[i] = fmt.Sprintf("bench-%s-pg%d", run, i)
		if _, err := svc.App.CreatePermissionGroup(ctx, caller, permIDs[i], permIDs[i], "bench"); err != nil {
			return nil, fmt.Errorf("create permission group: %w", err)
		}
	}
	img := Photo()
	ids := make([]string, p.Persons)
	const seedBatch = 1000
	for from := 0; from < p.Persons; from += seedBatch {
		batch := make([]app.SeedPerson, 0, seedBatch)
		for i := from; i < min(from+seedBatch, p.Persons); i++ {
			ids[i] = fmt.Sprintf("b%s-%07d", run, i)
			sp := app.SeedPerson{Name: "Bench Person", Registration: app.Registration{PersonID: ids[i], PermissionGroupIDs: permIDs}}
			for f := range p.Faces {
				rec := app.FaceRecord{FaceID: events.NewID(), PhotoKey: events.NewID(), Feature: []byte{byte(f), 1, 2, 3}}
				if f < p.Photos {
					rec.Photo = img
				}
				sp.Faces = append(sp.Faces, rec)
			}
			batch = append(batch, sp)
		}
		if err := svc.App.Seed(ctx, caller, batch); err != nil {
			return nil, fmt.Errorf("persons %d..%d: %w", from, from+len(batch)-1, err)
		}
		if (from/seedBatch)%10 == 9 {
			logger.Info("bench: seeding", "persons", from+len(batch), "of", p.Persons)
		}
	}
	// Seeding ends when the read model has it all: the deletion must not wait for it.
	return ids, svc.WaitCaughtUp(ctx)
}

// Mode names where cfg keeps the log and the read model, for the results' mode field:
// "embedded-nats" or "nats", then "sqlite" or "postgres".
func Mode(cfg config.Config) string {
	n, d := "embedded-nats", "sqlite"
	if cfg.NATSURL != "" {
		n = "nats"
	}
	if cfg.DatabaseURL != "" {
		d = "postgres"
	}
	return n + "+" + d
}

// Photo is the registration photo the benches register: a 16×16 PNG, small so that seeding
// measures erasure rather than image decoding.
func Photo() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range 256 {
		img.Set(i%16, i/16, color.RGBA{uint8(i), uint8(255 - i), 90, 255})
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img) // encoding an in-memory RGBA image into a buffer does not fail
	return buf.Bytes()
}

// percentileMS is the p-th percentile of ds in milliseconds (0 when there are none). It sorts ds.
func percentileMS(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := min(len(ds)-1, int(p*float64(len(ds))))
	return float64(ds[i].Microseconds()) / 1000
}

// replay rebuilds every read model from the whole log into fresh tables and swaps them in, as
// erasure replay does beside a running service, and reports the rates: events, and persons
// (every person with events in the log, those of earlier runs on a kept data directory included).
func replay(ctx context.Context, svc *service.Service, res *DeletionResult, profile io.Writer) error {
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			return fmt.Errorf("start the replay's CPU profile: %w", err)
		}
	}
	sum, err := svc.Rebuild(ctx)
	if profile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	// Counted in the replayed read model, those that exist and those deleted: JetStream lists a
	// stream's subjects in one answer, which did not come within a minute for a million persons.
	var persons int
	if err := svc.DBs.ReadModel.GetContext(ctx, &persons,
		`SELECT COUNT(*) FROM (SELECT person_id FROM persons UNION SELECT person_id FROM deleted_persons) AS p`); err != nil {
		return fmt.Errorf("count the persons in the log: %w", err)
	}
	res.ReplayEvents, res.ReplayEventsPerS = sum.Events, sum.EventsPerS
	res.ReplayPersons = persons
	if sum.Seconds > 0 {
		res.ReplayPersonsPerS = float64(persons) / sum.Seconds
	}
	return nil
}

// writeAllocs writes the heap profile to w (none: nothing), after a collection so that it is
// current.
func writeAllocs(w io.Writer) error {
	if w == nil {
		return nil
	}
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(w, 0); err != nil {
		return fmt.Errorf("write the allocation profile: %w", err)
	}
	return nil
}

// waitConsumersCaughtUp waits until no durable consumer of the log has a message to receive or
// to acknowledge, polling every 50 ms. A consumer whose backlog stays the same for ten seconds
// is nobody's (a durable an older binary left in a kept data directory): it is logged and no
// longer waited for.
func waitConsumersCaughtUp(ctx context.Context, svc *service.Service, logger *slog.Logger) error {
	const stalled = 10 * time.Second
	last, moved := map[string]uint64{}, time.Now()
	for {
		backlog, err := svc.Log.ConsumerBacklog(ctx)
		if err != nil {
			return fmt.Errorf("consumers' backlog: %w", err)
		}
		lagging := map[string]uint64{}
		for name, n := range backlog {
			if n > 0 {
				lagging[name] = n
			}
			if n != last[name] {
				moved = time.Now()
			}
		}
		last = backlog
		if len(lagging) == 0 {
			return nil
		}
		if time.Since(moved) > stalled {
			logger.Warn("bench: consumers whose backlog does not move; not waited for", "backlog", lagging)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
