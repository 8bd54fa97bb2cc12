package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/bench"
	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/internal/testenv/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// benchConfig is testenv's configuration for dialect without the API keys or Tencent settings
// the environment may carry: the benches run against a server of their own.
func benchConfig(t *testing.T, dialect string) config.Config {
	cfg := testenv.Config(t, dialect)
	cfg.APIKeys, cfg.TencentSecretID, cfg.TencentSecretKey = "", "", ""
	return cfg
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestDeletion runs the deletion bench on a few persons (the published run is 20,000) on each
// dialect, the floor's SQL differing between them: every person deleted, every figure in a
// sane range, the cost counts of issue 16 among them. On SQLite it also writes the CPU profile.
func TestDeletion(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		cfg := benchConfig(t, dialect)
		env := testenv.Start(t, cfg)
		opts := bench.DeletionOptions{Population: bench.Population{Persons: 200, Faces: 3, Photos: 2, PermissionGroups: 2}, Mode: bench.Mode(cfg)}
		var profile bytes.Buffer
		if dialect == "sqlite" { // the CPU profiler is one per process: one subtest profiles
			opts.CPUProfile = &profile
		}
		res, err := bench.Deletion(timeout(t, 3*time.Minute), env.Svc, opts)
		require.NoError(t, err)
		require.Equal(t, 200, res.Persons)
		require.Equal(t, map[string]string{"sqlite": "embedded-nats+sqlite", "postgres": "embedded-nats+postgres"}[dialect], res.Mode)
		require.Positive(t, res.SeedSeconds)
		require.Positive(t, res.PersonsPerS)
		require.InDelta(t, float64(res.Persons)/res.Seconds, res.PersonsPerS, 1e-6)
		require.Positive(t, res.P50ms)
		require.GreaterOrEqual(t, res.P99ms, res.P50ms)
		require.Positive(t, res.FloorSeconds)
		require.InDelta(t, res.Seconds/res.FloorSeconds, res.Ratio, 1e-6)
		require.Positive(t, res.StatusP99ms)
		require.Positive(t, res.CPUmsPerPerson)
		require.GreaterOrEqual(t, res.EventsPerPerson, 2.0, "a request and a terminal event per person at the least")
		require.LessOrEqual(t, res.EventsPerPerson, 20.0)
		require.Greater(t, res.DeliveriesPerPerson, res.EventsPerPerson, "each event reaches the projection and some consumer besides")
		require.Contains(t, res.DeliveriesByConsumer, "person-deletion-saga")
		require.Contains(t, res.DeliveriesByConsumer, "followers")
		require.GreaterOrEqual(t, res.DeliveriesByConsumer["erasure_webhooks"], res.EventsPerPerson-0.01,
			"the webhook intake reads every event, and the figures are read once it has")
		require.Positive(t, res.SQLStatementsPerPerson)
		require.Positive(t, res.SQLTransactionsPerPerson)
		require.Positive(t, res.AllocsPerPerson)
		require.GreaterOrEqual(t, res.GCCPUmsPerPerson, 0.0)
		require.Equal(t, 200, res.ReplayPersons, "every person of the log was replayed")
		require.Positive(t, res.ReplayEvents)
		require.Positive(t, res.ReplayPersonsPerS)
		require.Positive(t, res.ReplayEventsPerS)
		require.Positive(t, res.PeakRSSMB)
		if opts.CPUProfile != nil {
			require.NotZero(t, profile.Len(), "the CPU profile of the deletion phase was written")
		}

		// The floor's scratch tables are gone: a second run creates them again.
		var n int
		require.NoError(t, env.Svc.DBs.Stores.Get(&n, `SELECT COUNT(*) FROM `+map[string]string{
			"sqlite": "sqlite_master WHERE name LIKE 'bench_floor%'", "postgres": "pg_tables WHERE tablename LIKE 'bench_floor%'"}[dialect]))
		require.Zero(t, n, "scratch tables left behind")
	})
}

// TestPopulationValidate: a population that cannot be seeded is refused with a message naming
// the flag to change.
func TestPopulationValidate(t *testing.T) {
	t.Parallel()
	ok := bench.Population{Persons: 1, Faces: 3, Photos: 2, PermissionGroups: 2}
	for _, tc := range []struct {
		name string
		edit func(*bench.Population)
		want string // "" for valid
	}{
		{"defaults", func(*bench.Population) {}, ""},
		{"no faces, no photos, no groups", func(p *bench.Population) { p.Faces, p.Photos, p.PermissionGroups = 0, 0, 0 }, ""},
		{"the most", func(p *bench.Population) { p.Faces, p.Photos, p.PermissionGroups = 5, 5, 100 }, ""},
		{"no persons", func(p *bench.Population) { p.Persons = 0 }, "--persons must be at least 1"},
		{"six faces", func(p *bench.Population) { p.Faces = 6 }, "--faces must be 0..5"},
		{"negative faces", func(p *bench.Population) { p.Faces, p.Photos = -1, 0 }, "--faces must be 0..5"},
		{"more photos than faces", func(p *bench.Population) { p.Photos = 4 }, "--photos must be 0..--faces"},
		{"101 groups", func(p *bench.Population) { p.PermissionGroups = 101 }, "--permission-groups must be 0..100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			tc.edit(&p)
			err := p.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.want)
		})
	}
}

// TestResultJSONNames: the JSON names of every result line are a contract (docs/performance.md
// and the notes of earlier runs cite them); a rename fails here first.
func TestResultJSONNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		result any
		keys   []string
	}{
		{"bench", bench.DeletionResult{}, []string{"allocs_per_person", "catch_up_seconds", "cpu_ms_per_person", "deliveries_per_person",
			"deliveries_per_person_by_consumer", "events_per_person", "faces", "floor_seconds", "gc_cpu_ms_per_person", "mode",
			"p50_ms", "p99_ms", "peak_rss_mb", "permission_groups", "persons", "persons_per_s", "photos", "ratio", "replay_events",
			"replay_events_per_s", "replay_persons", "replay_persons_per_s", "seconds", "seed_seconds", "sql_statements_per_person",
			"sql_transactions_per_person", "status_p99_ms", "write_kb_per_person"}},
		{"bench --intake", bench.IntakeResult{}, []string{"ids", "intake_ids_per_s", "intake_seconds", "peak_rss_mb", "terminal_seconds"}},
		{"bench --single", bench.SingleResult{}, []string{"answers_when", "gone_at_answer", "max_ms", "mode", "p50_ms", "p99_ms",
			"seed_seconds", "single_persons"}},
		{"bench --load", bench.LoadResult{}, []string{"clients", "creates", "deletions", "drain_seconds", "duplicated", "duration_seconds",
			"errors_5xx", "lost", "mode", "ok", "persons_deleted", "rate_limited", "requests", "requests_per_s", "routes", "status",
			"status_reads", "transport_errors", "unexpected"}},
		{"bench --load route", bench.RouteStats{}, []string{"count", "max_ms", "p50_ms", "p99_ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal(tc.result)
			require.NoError(t, err)
			var fields map[string]any
			require.NoError(t, json.Unmarshal(raw, &fields))
			var keys []string
			for k := range fields {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			require.Equal(t, tc.keys, keys)
		})
	}
}

// TestIntake streams a few hundred IDs of persons that do not exist: the request is accepted
// and every item ends (not found) before Intake returns.
func TestIntake(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, benchConfig(t, "sqlite"))
	res, err := bench.Intake(timeout(t, time.Minute), env.Svc, 500, nil)
	require.NoError(t, err)
	require.Equal(t, 500, res.IDs)
	require.Positive(t, res.IntakeSeconds)
	require.InDelta(t, 500/res.IntakeSeconds, res.IntakeIDsPerS, 1e-6)
	require.GreaterOrEqual(t, res.TerminalSeconds, res.IntakeSeconds)
	require.Positive(t, res.PeakRSSMB)
}

// TestSingle deletes five persons one by one through the Tencent SDK, each call timed, and each
// person gone from the registry when its call answered.
func TestSingle(t *testing.T) {
	t.Parallel()
	cfg := benchConfig(t, "sqlite")
	bench.ConfigureSingle(&cfg)
	env := testenv.Start(t, cfg)
	res, err := bench.Single(timeout(t, 2*time.Minute), env.Svc, bench.SingleOptions{
		Population: bench.Population{Persons: 5, Faces: 3, Photos: 2, PermissionGroups: 2}, Mode: bench.Mode(cfg),
		SecretID: cfg.TencentSecretID, SecretKey: cfg.TencentSecretKey})
	require.NoError(t, err)
	require.Equal(t, 5, res.Persons)
	require.Equal(t, 5, res.GoneAtAnswer, "every person is deleted once its DeletePerson answered")
	require.Equal(t, "deletion_terminal", res.AnswersWhen)
	require.Equal(t, "embedded-nats+sqlite", res.Mode)
	require.Positive(t, res.P50ms)
	require.GreaterOrEqual(t, res.P99ms, res.P50ms)
	require.GreaterOrEqual(t, res.MaxMs, res.P99ms)

	// Signed with another secret, the first call is refused: the bench measures signed calls.
	_, err = bench.Single(timeout(t, time.Minute), env.Svc, bench.SingleOptions{
		Population: bench.Population{Persons: 1}, SecretID: cfg.TencentSecretID, SecretKey: "not-the-secret"})
	require.ErrorContains(t, err, "AuthFailure.SignatureFailure")
}

// TestLoad runs the load test for a few seconds with a few clients (the full run is 200 clients
// for 60 s): no 5xx, every person deleted exactly once, p99 per route. Not parallel: beside the
// other benches a client under the race detector may not get past its creates in 3 s.
func TestLoad(t *testing.T) {
	env := testenv.Start(t, benchConfig(t, "sqlite"))
	res, err := bench.Load(timeout(t, 3*time.Minute), bench.LoadOptions{Server: env.HTTP.URL, Clients: 8, Duration: 3 * time.Second,
		IDsPerDeletion: 5, Mode: "test"})
	require.NoError(t, err)
	require.True(t, res.OK, "%+v", res)
	require.NoError(t, res.Err())
	require.Equal(t, "test", res.Mode)
	require.Equal(t, 8, res.Clients)
	require.Zero(t, res.Errors5xx)
	require.Zero(t, res.Lost)
	require.Zero(t, res.Duplicated)
	require.Positive(t, res.Creates)
	require.Equal(t, res.Creates, res.PersonsDeleted, "every person created is deleted exactly once")
	for _, route := range []string{"POST /v1/persons", "POST /v1/deletions"} {
		require.Contains(t, res.Routes, route)
	}
	if res.StatusReads > 0 { // a client that got to its reads read a deletion or a person
		require.True(t, res.Routes["GET /v1/deletions/{id}"].Count+res.Routes["GET /v1/persons/{id}"].Count > 0, "%+v", res.Routes)
	}
	var requests int
	for route, st := range res.Routes {
		require.Positive(t, st.P99ms, route)
		require.GreaterOrEqual(t, st.Maxms, st.P99ms, route)
		requests += st.Count
	}
	require.Equal(t, res.Requests, requests, "every answered request is timed under its route")
}

// TestLoadReportsServerErrors: against a server that answers 500, the run completes with OK
// false and Err counting the 5xx (the command's exit 1), rather than failing to run.
func TestLoadReportsServerErrors(t *testing.T) {
	t.Parallel()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)
	res, err := bench.Load(timeout(t, time.Minute), bench.LoadOptions{Server: broken.URL, Clients: 2, Duration: 300 * time.Millisecond, IDsPerDeletion: 5})
	require.NoError(t, err)
	require.False(t, res.OK)
	require.Positive(t, res.Errors5xx)
	require.Equal(t, res.Requests, res.Errors5xx, "every answer was a 500")
	require.Zero(t, res.Creates)
	require.ErrorContains(t, res.Err(), "5xx")
}

// TestLoadOptionsValidate: each count must be positive, and Load needs a server.
func TestLoadOptionsValidate(t *testing.T) {
	t.Parallel()
	ok := bench.LoadOptions{Server: "http://127.0.0.1:1", Clients: 1, Duration: time.Second, IDsPerDeletion: 1}
	require.NoError(t, ok.Validate())
	for _, edit := range []func(*bench.LoadOptions){
		func(o *bench.LoadOptions) { o.Clients = 0 },
		func(o *bench.LoadOptions) { o.Duration = 0 },
		func(o *bench.LoadOptions) { o.IDsPerDeletion = 0 },
	} {
		o := ok
		edit(&o)
		require.EqualError(t, o.Validate(), "--clients, --duration and --ids-per-deletion must be positive")
	}
	_, err := bench.Load(context.Background(), bench.LoadOptions{Clients: 1, Duration: time.Second, IDsPerDeletion: 1})
	require.ErrorContains(t, err, "no server URL")
}
