package sagas_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/internal/testenv/leakcheck"
	"github.com/erasure-dev/erasure/sagas"
	"github.com/erasure-dev/erasure/service"
	"github.com/erasure-dev/erasure/stores"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// faultyTarget wraps the built-in stores with failures a test switches on, and counts the calls
// that reached the real store per step and person.
type faultyTarget struct {
	inner sagas.Stores

	mu        sync.Mutex
	transient map[domain.Step]int  // failures left before the step works
	broken    map[domain.Step]bool // fails until repaired
	brokenFor map[string]bool      // "step/person": any call naming the person fails until repaired
	effects   map[string]int       // "step/person" -> calls that reached the store
	hold      map[domain.Step]chan struct{}
	held      chan string // reports "step/person" when a held call has done its effect
}

func newFaultyTarget(inner sagas.Stores) *faultyTarget {
	return &faultyTarget{inner: inner, transient: map[domain.Step]int{}, broken: map[domain.Step]bool{}, brokenFor: map[string]bool{},
		effects: map[string]int{}, hold: map[domain.Step]chan struct{}{}, held: make(chan string, 64)}
}

var errStoreDown = errors.New("downstream store unavailable")

func (f *faultyTarget) call(ctx context.Context, step domain.Step, ids []string, do func(context.Context, []string) error) error {
	f.mu.Lock()
	if f.broken[step] {
		f.mu.Unlock()
		return errStoreDown
	}
	for _, id := range ids {
		if f.brokenFor[string(step)+"/"+id] {
			f.mu.Unlock()
			return errStoreDown
		}
	}
	if f.transient[step] > 0 {
		f.transient[step]--
		f.mu.Unlock()
		return errStoreDown
	}
	hold := f.hold[step]
	f.mu.Unlock()
	if err := do(ctx, ids); err != nil {
		return err
	}
	f.mu.Lock()
	for _, id := range ids {
		f.effects[string(step)+"/"+id]++
	}
	f.mu.Unlock()
	if hold != nil {
		for _, id := range ids {
			f.held <- string(step) + "/" + id
		}
		select { // a worker stuck (or dead) after the side effect, before recording it
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (f *faultyTarget) UnbindPermissionGroups(ctx context.Context, ids []string) error {
	return f.call(ctx, domain.StepUnbindPermissions, ids, f.inner.UnbindPermissionGroups)
}

func (f *faultyTarget) PurgeFaces(ctx context.Context, ids []string) error {
	return f.call(ctx, domain.StepPurgeFaces, ids, f.inner.PurgeFaces)
}

func (f *faultyTarget) PurgePhotos(ctx context.Context, photos []events.PersonPhotos) error {
	return f.call(ctx, domain.StepPurgePhotos, idsOf(photos), func(ctx context.Context, _ []string) error {
		return f.inner.PurgePhotos(ctx, photos)
	})
}

func idsOf(photos []events.PersonPhotos) []string {
	ids := make([]string, len(photos))
	for i, p := range photos {
		ids[i] = p.PersonID
	}
	return ids
}

func (f *faultyTarget) effectCount(step domain.Step, id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.effects[string(step)+"/"+id]
}

func (f *faultyTarget) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// start runs a service whose saga drives target (built on the service's own stores).
func start(t *testing.T, dialect string, target **faultyTarget, opts ...service.Option) *testenv.Env {
	t.Helper()
	return startWith(t, testenv.Config(t, dialect), target, opts...)
}

type api struct {
	t    testing.TB
	base string
}

// call sends body, if not nil, as JSON.
func (a api) call(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	var b []byte
	if body != nil {
		var err error
		b, err = json.Marshal(body)
		require.NoError(a.t, err)
	}
	return testenv.Client{T: a.t, Base: a.base}.Do(method, path, "application/json", string(b))
}

func photo(t testing.TB) string {
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4))))
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func (a api) createPerson(id string) {
	a.t.Helper()
	status, body := a.call(http.MethodPost, "/v1/persons", map[string]any{
		"person_id": id, "name": "Person " + id, "permission_group_ids": []string{"door"},
		"photos": []map[string]string{{"image_base64": photo(a.t)}},
	})
	require.Equal(a.t, http.StatusCreated, status, body)
}

func (a api) deleteIDs(ids ...string) string {
	a.t.Helper()
	status, body := a.call(http.MethodPost, "/v1/deletions", map[string]any{"person_ids": ids})
	require.Equal(a.t, http.StatusAccepted, status, body)
	return body["deletion_id"].(string)
}

// waitDeletion polls the request until it is completed and returns its final view.
func (a api) waitDeletion(id string) map[string]any {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, d := a.call(http.MethodGet, "/v1/deletions/"+id, nil)
		require.Equal(a.t, http.StatusOK, status, d)
		if d["state"] == "completed" {
			return d
		}
		require.True(a.t, time.Now().Before(deadline), "deletion %s not completed: %v", id, d)
		time.Sleep(20 * time.Millisecond)
	}
}

// waitItem polls until the person's item of the request has left pending.
func (a api) waitItem(id, personID string) map[string]any {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := a.call(http.MethodGet, "/v1/deletions/"+id+"/items", nil)
		for _, it := range body["items"].([]any) {
			item := it.(map[string]any)
			if item["person_id"] == personID && item["state"] != "pending" {
				return item
			}
		}
		require.True(a.t, time.Now().Before(deadline), "item %s of %s still pending", personID, id)
		time.Sleep(20 * time.Millisecond)
	}
}

// personEvents returns the types of the events that record a person's life, in order: its own
// subject's, and the step events of the batches its deletions ran in that list it.
func personEvents(t *testing.T, env *testenv.Env, id string) []string {
	t.Helper()
	ctx := context.Background()
	history, _, err := env.Svc.Log.Load(ctx, events.AggregatePerson, id)
	require.NoError(t, err)
	all := slices.Clone(history)
	for _, r := range history {
		if e, ok := r.Data.(events.PersonDeletionRequested); ok && e.Batch != "" {
			batch, _, err := env.Svc.Log.Load(ctx, events.AggregateBatch, e.Batch)
			require.NoError(t, err)
			for _, b := range batch {
				if slices.Contains(events.PersonIDsOf(b.Data), id) && b.Type != "DeletionBatchStarted" {
					all = append(all, b)
				}
			}
		}
	}
	slices.SortFunc(all, func(a, b events.Recorded) int { return cmp.Compare(a.Seq, b.Seq) })
	types := make([]string, len(all))
	for i, r := range all {
		types[i] = r.Type
	}
	return types
}

// ownEvents returns the types of the events on a person's own subject.
func ownEvents(t *testing.T, env *testenv.Env, id string) []string {
	t.Helper()
	history, _, err := env.Svc.Log.Load(context.Background(), events.AggregatePerson, id)
	require.NoError(t, err)
	types := make([]string, len(history))
	for i, r := range history {
		types[i] = r.Type
	}
	return types
}

var fullSaga = []string{"PersonCreated", "PersonDeletionRequested", "PermissionGroupsUnbound", "FacesPurged", "PhotosPurged", "PersonDeleted"}

func requireGone(t *testing.T, env *testenv.Env, a api, id string) {
	t.Helper()
	status, _ := a.call(http.MethodGet, "/v1/persons/"+id, nil)
	require.Equal(t, http.StatusNotFound, status)
	left, err := env.Svc.Stores.Leftovers(context.Background(), []string{id})
	require.NoError(t, err)
	require.Empty(t, left)
	keys, err := env.Svc.Stores.PhotoKeys(id)
	require.NoError(t, err)
	require.Empty(t, keys, "photos of %s remain", id)
	has, err := env.Svc.Keys.Has(context.Background(), id)
	require.NoError(t, err)
	require.False(t, has, "data key of %s remains", id)
}

func TestTransientFailuresAreRetried(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		var target *faultyTarget
		env := start(t, dialect, &target)
		a := api{t, env.HTTP.URL}
		a.createPerson("flaky")
		// Each store fails three times (within the budget of four attempts), then recovers.
		target.set(func() {
			for _, s := range []domain.Step{domain.StepUnbindPermissions, domain.StepPurgeFaces, domain.StepPurgePhotos} {
				target.transient[s] = 3
			}
		})
		id := a.deleteIDs("flaky")
		d := a.waitDeletion(id)
		require.Equal(t, 1.0, d["deleted"], d)
		require.Equal(t, 0.0, d["failed"], d)
		for _, s := range []domain.Step{domain.StepUnbindPermissions, domain.StepPurgeFaces, domain.StepPurgePhotos} {
			require.Equal(t, 1, target.effectCount(s, "flaky"), "step %s", s)
		}
		require.Equal(t, fullSaga, personEvents(t, env, "flaky"))
		// A bulk's person gets two events of its own; its steps are its batch's records.
		require.Equal(t, []string{"PersonCreated", "PersonDeletionRequested", "PersonDeleted"}, ownEvents(t, env, "flaky"))
		requireGone(t, env, a, "flaky")
	})
}

func TestPermanentFailureThenOperatorRetry(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		var target *faultyTarget
		env := start(t, dialect, &target)
		a := api{t, env.HTTP.URL}
		a.createPerson("stuck")
		a.createPerson("fine")
		target.set(func() { target.broken[domain.StepPurgeFaces] = true })
		id := a.deleteIDs("stuck")
		item := a.waitItem(id, "stuck")
		require.Equal(t, "failed", item["state"])
		e := item["error"].(map[string]any)
		require.Equal(t, domain.CodeStepFailed, e["code"])
		require.Equal(t, string(domain.StepPurgeFaces), e["step"])
		d := a.waitDeletion(id)
		require.Equal(t, 1.0, d["failed"])

		// Never half-visible: the person stays deleting, and commands on it are refused.
		status, p := a.call(http.MethodGet, "/v1/persons/stuck", nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "deleting", p["state"])

		// Repair the store and retry the failed items.
		target.set(func() { target.broken[domain.StepPurgeFaces] = false })
		status, body := a.call(http.MethodPost, "/v1/deletions/"+id+"/retry", nil)
		require.Equal(t, http.StatusAccepted, status, body)
		require.Equal(t, 1.0, body["retried"])
		item = a.waitItem(id, "stuck")
		require.Equal(t, "deleted", item["state"], item)
		d = a.waitDeletion(id)
		require.Equal(t, 1.0, d["deleted"], d)
		require.Equal(t, 0.0, d["failed"], d)
		requireGone(t, env, a, "stuck")
		require.Equal(t, 1, target.effectCount(domain.StepUnbindPermissions, "stuck"))
		require.Equal(t, 1, target.effectCount(domain.StepPurgeFaces, "stuck"))

		// The untouched person is still whole.
		status, _ = a.call(http.MethodGet, "/v1/persons/fine", nil)
		require.Equal(t, http.StatusOK, status)
	})
}

func TestRacingRequestsMakeOneSaga(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		var target *faultyTarget
		env := start(t, dialect, &target)
		a := api{t, env.HTTP.URL}
		a.createPerson("contested")
		const racers = 6
		ids := make([]string, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids[i] = a.deleteIDs("contested")
			}()
		}
		wg.Wait()
		for _, id := range ids {
			d := a.waitDeletion(id)
			// Each request reports the outcome of the one saga: joined, or not found once gone.
			require.Equal(t, 1.0, d["total"], d)
			require.Equal(t, 0.0, d["pending"], d)
		}
		require.Equal(t, fullSaga, onlySagaEvents(personEvents(t, env, "contested")))
		for _, s := range []domain.Step{domain.StepUnbindPermissions, domain.StepPurgeFaces, domain.StepPurgePhotos} {
			require.Equal(t, 1, target.effectCount(s, "contested"), "step %s ran more than once", s)
		}
		requireGone(t, env, a, "contested")
	})
}

// onlySagaEvents drops the join records (PersonDeletionRequested with Joins set are listed as
// such by type only, so count them out by position: a saga has exactly one start).
func onlySagaEvents(types []string) []string {
	var out []string
	started := false
	for _, ty := range types {
		if ty == "PersonDeletionRequested" {
			if started {
				continue
			}
			started = true
		}
		out = append(out, ty)
	}
	return out
}

func TestSecondRequestJoinsRunningSaga(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		var target *faultyTarget
		env := start(t, dialect, &target)
		a := api{t, env.HTTP.URL}
		a.createPerson("joined")
		release := make(chan struct{})
		var once sync.Once
		unhold := func() { once.Do(func() { close(release) }) }
		t.Cleanup(unhold)
		target.set(func() { target.hold[domain.StepPurgeFaces] = release })
		first := a.deleteIDs("joined")
		select {
		case <-target.held:
		case <-time.After(20 * time.Second):
			t.Fatal("saga never reached purge_faces")
		}
		// While the first saga is in flight, a second request names the same person.
		require.Eventually(t, func() bool {
			_, p := a.call(http.MethodGet, "/v1/persons/joined", nil)
			return p["state"] == "deleting"
		}, 10*time.Second, 10*time.Millisecond)
		second := a.deleteIDs("joined")
		// The request is accepted at once and dispatched asynchronously: let it join before the
		// first saga may finish (after that, the person would simply not be found).
		require.Eventually(t, func() bool {
			n := 0
			for _, ty := range personEvents(t, env, "joined") {
				if ty == "PersonDeletionRequested" {
					n++
				}
			}
			return n == 2
		}, 10*time.Second, 10*time.Millisecond)
		target.set(func() { delete(target.hold, domain.StepPurgeFaces) })
		unhold()
		for _, id := range []string{first, second} {
			d := a.waitDeletion(id)
			_, items := a.call(http.MethodGet, "/v1/deletions/"+id+"/items", nil)
			require.Equal(t, 1.0, d["deleted"], "request %s: %v %v", id, d, items)
		}
		types := personEvents(t, env, "joined")
		require.Equal(t, fullSaga, onlySagaEvents(types))
		require.Len(t, types, len(fullSaga)+1, "one join record: %v", types)
		require.Equal(t, 1, target.effectCount(domain.StepPurgeFaces, "joined"))
	})
}

// TestRedeliveredStepHasNoDoubleEffect runs two replicas on one log and one database. The first
// does a step's side effect and then hangs before recording it (as if it died there); JetStream
// hands the unacknowledged step to the second replica, which finishes the saga. When the first
// wakes up, recording the step again is a no-op: one outcome, one record of each step.
func TestRedeliveredStepHasNoDoubleEffect(t *testing.T) {
	t.Parallel()
	var target *faultyTarget
	cfg := testenv.Config(t, "postgres")
	cfg.NATSListen = freeAddr(t)
	cfg.MasterKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) // both replicas unwrap the same keys
	ackWait := service.WithAckWait(2 * time.Second)
	first := startWith(t, cfg, &target, ackWait)
	a := api{t, first.HTTP.URL}
	a.createPerson("twice")

	release := make(chan struct{})
	var once sync.Once
	unhold := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unhold)
	target.set(func() { target.hold[domain.StepPurgePhotos] = release })
	id := a.deleteIDs("twice")
	select {
	case <-target.held:
	case <-time.After(20 * time.Second):
		t.Fatal("saga never reached purge_photos")
	}
	target.set(func() { delete(target.hold, domain.StepPurgePhotos) })

	// The second replica shares the log (through the first one's nats-server) and the database.
	cfg2 := cfg
	cfg2.DataDir = t.TempDir()
	cfg2.NATSListen = ""
	cfg2.NATSURL = "nats://" + cfg.NATSListen
	second := startWith(t, cfg2, &target, ackWait)
	b := api{t, second.HTTP.URL}
	d := b.waitDeletion(id)
	require.Equal(t, 1.0, d["deleted"], d)
	unhold()

	require.Eventually(t, func() bool {
		return len(personEvents(t, first, "twice")) == len(fullSaga)
	}, 10*time.Second, 20*time.Millisecond)
	// Give the woken replica's late record a chance to (wrongly) land, bounded by the ack wait.
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, fullSaga, personEvents(t, first, "twice"))
	require.Equal(t, 1, target.effectCount(domain.StepUnbindPermissions, "twice"))
	require.Equal(t, 1, target.effectCount(domain.StepPurgeFaces, "twice"))
	// The redelivered purge ran on the second replica only because the first never recorded it;
	// purging an already-purged person removed nothing more.
	require.LessOrEqual(t, target.effectCount(domain.StepPurgePhotos, "twice"), 2)
	requireGone(t, first, a, "twice")
}

func startWith(t *testing.T, cfg config.Config, target **faultyTarget, opts ...service.Option) *testenv.Env {
	t.Helper()
	opts = append(opts,
		service.WithRetry(sagas.Retry{Attempts: 4, Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}),
		service.WithTarget(func(b *stores.Builtin) sagas.Stores {
			if *target == nil {
				*target = newFaultyTarget(b)
			}
			return *target
		}))
	return testenv.Start(t, cfg, opts...)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
}
