package native_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
	"github.com/erasure-dev/erasure/sagas"
	"github.com/erasure-dev/erasure/service"
	"github.com/erasure-dev/erasure/stores"
)

// keyedTransport sends every request with a bearer API key.
type keyedTransport struct{ key string }

func (k keyedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if k.key != "" {
		r.Header.Set("Authorization", "Bearer "+k.key)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// keyedClient is an HTTP client that authenticates with key ("" for none). It has no overall
// timeout: a stream stays open as long as the test holds it (openStream bounds the wait for
// the answer's headers).
func keyedClient(key string) *http.Client { return &http.Client{Transport: keyedTransport{key}} }

// call sends a JSON request and decodes the answer.
func call(t *testing.T, c *http.Client, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "body %s", raw)
	return resp.StatusCode, out
}

// liveStream is an event stream held open by a test; close ends it from the client's side.
type liveStream struct {
	status int
	header http.Header
	body   map[string]any // the error answer, when status is not 200
	events chan sseEvent
	close  context.CancelFunc
}

// streamAnswer is the answer to a stream request, once its headers arrived.
type streamAnswer struct {
	resp *http.Response
	err  error
}

// requestStream sends GET /v1/deletions/{id}/events with c in the background: the answer
// comes on the channel once its headers arrive; cancel ends the request.
func requestStream(t *testing.T, c *http.Client, base, id, lastID string) (<-chan streamAnswer, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/deletions/"+id+"/events", nil)
	require.NoError(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	done := make(chan streamAnswer, 1)
	go func() {
		resp, err := c.Do(req)
		done <- streamAnswer{resp, err}
	}()
	return done, cancel
}

// openStream opens /v1/deletions/{id}/events with c and waits (at most 20 s) for the answer's
// headers; a 200 stream is then read in the background until it ends or close is called.
func openStream(t *testing.T, c *http.Client, base, id, lastID string) *liveStream {
	t.Helper()
	done, cancel := requestStream(t, c, base, id, lastID)
	select {
	case a := <-done:
		return readStream(t, a, cancel)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatalf("GET %s/events (Last-Event-ID %q): no answer within 20 s", id, lastID)
		return nil
	}
}

// readStream reads the answer of requestStream: the error answer, or the events in the background.
func readStream(t *testing.T, a streamAnswer, cancel context.CancelFunc) *liveStream {
	t.Helper()
	require.NoError(t, a.err)
	s := &liveStream{status: a.resp.StatusCode, header: a.resp.Header, events: make(chan sseEvent, 1000), close: cancel}
	if s.status != http.StatusOK {
		defer a.resp.Body.Close()
		raw, err := io.ReadAll(a.resp.Body)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &s.body), "body %s", raw)
		close(s.events)
		return s
	}
	go func() {
		defer close(s.events)
		defer a.resp.Body.Close()
		sc := bufio.NewScanner(a.resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data)
			}
		}
	}()
	return s
}

// errorCode is the native error code of a refused stream.
func (s *liveStream) errorCode() string {
	e, _ := s.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// streamEnv is a service whose deletions wait at a gate, with its embedded nats-server reachable
// so that a test can look at the stream's consumers.
type streamEnv struct {
	*testenv.Env
	gate   *faceGate
	stream jetstream.Stream
}

func startStreamEnv(t *testing.T, adjust func(*config.Config)) *streamEnv {
	t.Helper()
	gate := &faceGate{open: make(chan struct{})}
	cfg := testenv.Config(t, "sqlite")
	cfg.NATSListen = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	if adjust != nil {
		adjust(&cfg)
	}
	env := testenv.Start(t, cfg, service.WithTarget(func(b *stores.Builtin) sagas.Stores { gate.Stores = b; return gate }))
	t.Cleanup(gate.release) // before the service stops (cleanups run last first)
	st, err := jstest.Connect(t, "nats://"+cfg.NATSListen).Stream(context.Background(), cfg.Stream)
	require.NoError(t, err)
	return &streamEnv{Env: env, gate: gate, stream: st}
}

// consumers returns the stream's consumers by name. It does not fail the test, so that it can
// run in a polled condition (whose goroutine must not end the test).
func (e *streamEnv) consumers() (map[string]*jetstream.ConsumerInfo, error) {
	out := map[string]*jetstream.ConsumerInfo{}
	l := e.stream.ListConsumers(context.Background())
	for ci := range l.Info() {
		out[ci.Name] = ci
	}
	return out, l.Err()
}

// consumerCount reports whether the stream has n consumers now.
func (e *streamEnv) consumerCount(n int) bool {
	cs, err := e.consumers()
	return err == nil && len(cs) == n
}

// gatedDeletion records persons and a deletion of them that waits at the gate; it returns the
// deletion's id.
func gatedDeletion(t *testing.T, c *http.Client, base string, persons ...string) string {
	t.Helper()
	for i, id := range persons {
		status, body := call(t, c, http.MethodPost, base+"/v1/persons",
			fmt.Sprintf(`{"person_id":%q,"name":"Name","photos":[{"image_base64":%q}]}`, id, photo(t, 500+i)))
		require.Equal(t, http.StatusCreated, status, body)
	}
	ids, _ := json.Marshal(persons)
	status, body := call(t, c, http.MethodPost, base+"/v1/deletions", fmt.Sprintf(`{"person_ids":%s}`, ids))
	require.Equal(t, http.StatusAccepted, status, body)
	return body["deletion_id"].(string)
}

// A stream resumed with Last-Event-ID 1 on a deletion recorded after many other events reads
// the log from the deletion's own first event, and only the subjects a deletion's progress is
// on: it never replays the log before the deletion (issue 15, point 6).
func TestDeletionEventsStartAtTheDeletion(t *testing.T) {
	t.Parallel()
	env := startStreamEnv(t, nil)
	c := keyedClient("")
	base := env.HTTP.URL
	for i := range 300 {
		status, body := call(t, c, http.MethodPost, base+"/v1/groups", fmt.Sprintf(`{"group_id":"noise-%d","name":"Noise"}`, i))
		require.Equal(t, http.StatusCreated, status, body)
	}
	id := gatedDeletion(t, c, base, "s1", "s2")
	first, ok, err := env.Svc.Log.First(context.Background(), events.AggregateDeletion, id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Greater(t, first.Seq, uint64(300), "the deletion comes after the noise")

	before, err := env.consumers()
	require.NoError(t, err)
	// Nothing of this deletion has settled yet, so the answer's headers wait for its first item:
	// the request runs in the background meanwhile.
	answer, cancel := requestStream(t, c, base, id, "1")
	// nats.go replaces an ordered consumer that missed heartbeats (under load), and the
	// projection's may be among the new ones: every new consumer starts at the deletion or
	// later, and the stream's own reads the deletion's subject and its persons' only.
	var own *jetstream.ConsumerInfo
	require.Eventually(t, func() bool {
		now, err := env.consumers()
		if err != nil {
			return false
		}
		for name, ci := range now {
			if _, ok := before[name]; ok {
				continue
			}
			if ci.Config.AckPolicy == jetstream.AckNonePolicy && ci.Config.OptStartSeq < first.Seq {
				own = ci // from before the deletion: fails below
				return true
			}
			if slices.Contains(ci.Config.FilterSubjects, "erasure.deletion."+id) {
				own = ci
				return true
			}
		}
		return false
	}, 20*time.Second, 20*time.Millisecond, "no consumer for the stream")
	require.GreaterOrEqual(t, own.Config.OptStartSeq, first.Seq, "the stream starts at the deletion's first event, not at the log's start")
	require.ElementsMatch(t, []string{"erasure.person.*", "erasure.deletion." + id}, own.Config.FilterSubjects,
		"the stream reads only the subjects of a deletion's progress")
	// Once caught up, it has read at most what the log holds from the deletion on.
	var delivered uint64
	require.Eventually(t, func() bool {
		cons, err := env.stream.Consumer(context.Background(), own.Name)
		if err != nil {
			return false
		}
		info := cons.CachedInfo()
		delivered = info.Delivered.Consumer
		return info.Delivered.Stream > 0 && info.NumPending == 0
	}, 20*time.Second, 20*time.Millisecond)
	last := env.LastSeq(t) // the log only grows: what the consumer read is in it
	require.LessOrEqual(t, delivered, last-first.Seq+1, "messages read by the stream's consumer")

	// The stream itself goes on as before: the items, then the completion, all after the deletion.
	env.gate.release()
	var s *liveStream
	select {
	case a := <-answer:
		s = readStream(t, a, cancel)
	case <-time.After(20 * time.Second):
		t.Fatal("the resumed stream never answered")
	}
	require.Equal(t, http.StatusOK, s.status)
	var items int
	for done := false; !done; {
		ev, ok := (&sseStream{events: s.events}).next(t, 20*time.Second)
		require.True(t, ok, "the stream ended before completed")
		if ev.id != "" {
			seq, err := strconv.ParseUint(ev.id, 10, 64)
			require.NoError(t, err)
			require.GreaterOrEqual(t, seq, first.Seq, "event %s: from before the deletion", ev.event)
		}
		if ev.event == "item" {
			items++
		}
		done = ev.event == "completed"
	}
	require.Equal(t, 2, items)
}

// A Last-Event-ID beyond the log's end is no position of this log (a client of another
// deployment, or a forged one): the stream starts afresh with the counters as they are now,
// instead of waiting silently for a position the log may never reach.
func TestDeletionEventsLastEventIDBeyondTheLog(t *testing.T) {
	t.Parallel()
	env := startStreamEnv(t, nil)
	c := keyedClient("")
	id := gatedDeletion(t, c, env.HTTP.URL, "b1")
	for _, lastID := range []string{strconv.FormatUint(env.LastSeq(t)+1000, 10), "18446744073709551615"} {
		s := openStream(t, c, env.HTTP.URL, id, lastID)
		require.Equal(t, http.StatusOK, s.status, s.body)
		ev, ok := (&sseStream{events: s.events}).next(t, 10*time.Second)
		require.True(t, ok)
		require.Equal(t, "progress", ev.event, lastID)
		require.Equal(t, 1.0, ev.data["total"])
		s.close()
	}
}

// Each client may hold a bounded number of streams, and all clients together too; over the cap
// a stream is refused 429 TOO_MANY_STREAMS with Retry-After, and a client that goes away frees
// its slot and its consumer.
func TestDeletionEventsStreamCaps(t *testing.T) {
	t.Parallel()
	const keyA, keyB = "alpha-0123456789abcdef", "bravo-0123456789abcdef"
	env := startStreamEnv(t, func(cfg *config.Config) {
		cfg.APIKeys = "alpha:" + keyA + ",bravo:" + keyB
		cfg.Streams = config.Streams{PerClient: 2, Total: 3}
	})
	a, b := keyedClient(keyA), keyedClient(keyB)
	base := env.HTTP.URL
	id := gatedDeletion(t, a, base, "c1")
	cs, err := env.consumers()
	require.NoError(t, err)
	baseline := len(cs)

	refused := func(s *liveStream, why string) {
		t.Helper()
		require.Equal(t, http.StatusTooManyRequests, s.status, why)
		require.Equal(t, "TOO_MANY_STREAMS", s.errorCode(), why)
		require.NotEmpty(t, s.header.Get("Retry-After"), why)
		require.Contains(t, s.header.Get("Content-Type"), "application/json", why)
	}
	opened := func(s *liveStream, why string) {
		t.Helper()
		require.Equal(t, http.StatusOK, s.status, "%s: %v", why, s.body)
	}

	a1 := openStream(t, a, base, id, "")
	opened(a1, "alpha's first")
	opened(openStream(t, a, base, id, ""), "alpha's second")
	refused(openStream(t, a, base, id, ""), "alpha's third: over the per-client cap")
	b1 := openStream(t, b, base, id, "")
	opened(b1, "bravo's first: another client")
	refused(openStream(t, b, base, id, ""), "bravo's second: over the overall cap")

	// alpha lets one go: its slot is free again (once the server has seen the disconnect).
	a1.close()
	var again *liveStream
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if again = openStream(t, a, base, id, ""); again.status == http.StatusOK {
			break
		}
		refused(again, "alpha's third, until the server has seen the disconnect")
		require.True(t, time.Now().Before(deadline), "the slot of a closed stream is not freed")
	}

	// Every stream that ends removes its consumer: none is left behind for the server to hold.
	// A fresh stream sends the counters before it creates its consumer: wait for the consumers.
	require.Eventually(t, func() bool { return env.consumerCount(baseline + 3) }, 20*time.Second, 20*time.Millisecond,
		"one consumer per open stream")
	again.close()
	b1.close()
	require.Eventually(t, func() bool { return env.consumerCount(baseline + 1) }, 20*time.Second, 20*time.Millisecond,
		"consumers of closed streams are left behind")
}
