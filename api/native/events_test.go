package native_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/sagas"
	"github.com/erasure-dev/erasure/service"
	"github.com/erasure-dev/erasure/stores"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// sseStream reads a deletion's event stream.
type sseStream struct {
	cancel context.CancelFunc
	events chan sseEvent
	status int
}

// openEvents opens /v1/deletions/{id}/events, resuming after lastID when it is set.
func openEvents(t *testing.T, base, id, lastID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/deletions/"+id+"/events", nil)
	require.NoError(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	s := &sseStream{cancel: cancel, events: make(chan sseEvent, 100), status: resp.StatusCode}
	t.Cleanup(cancel)
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		close(s.events)
		return s
	}
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	go func() {
		defer close(s.events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
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

// next returns the next event, failing after d.
func (s *sseStream) next(t *testing.T, d time.Duration) (sseEvent, bool) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(d):
		t.Fatalf("no event within %s", d)
		return sseEvent{}, false
	}
}

// faceGate holds the saga's face purge until opened.
type faceGate struct {
	sagas.Stores
	open chan struct{}
	once sync.Once
}

func (g *faceGate) PurgeFaces(ctx context.Context, ids []string) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Stores.PurgeFaces(ctx, ids)
}

func (g *faceGate) release() { g.once.Do(func() { close(g.open) }) }

// A deletion's event stream shows its items as they settle; a client that loses the connection
// resumes with Last-Event-ID and gets everything after it, then the completion.
func TestDeletionEventsResumeAfterADroppedConnection(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		gate := &faceGate{open: make(chan struct{})}
		env := testenv.Start(t, testenv.Config(t, dialect),
			service.WithTarget(func(b *stores.Builtin) sagas.Stores { gate.Stores = b; return gate }))
		defer gate.release()
		c := client{t, env.HTTP.URL}
		for i, id := range []string{"e1", "e2", "e3"} {
			c.createPerson(id, i)
		}
		status, body := c.post("/v1/deletions", `{"person_ids":["e1","ghost","e2","e3"]}`)
		require.Equal(t, http.StatusAccepted, status, body)
		id := body["deletion_id"].(string)

		status, _ = c.get("/v1/deletions/nope/events")
		require.Equal(t, http.StatusNotFound, status)

		// Read from the start of the log: the unknown ID fails at dispatch, while the others wait
		// at the gate. Then the connection drops.
		first := openEvents(t, env.HTTP.URL, id, "1")
		require.Equal(t, http.StatusOK, first.status)
		var lastID string
		seen := map[float64]string{}
		for len(seen) == 0 {
			ev, ok := first.next(t, 10*time.Second)
			require.True(t, ok)
			if ev.id != "" {
				lastID = ev.id
			}
			if ev.event == "item" {
				seen[ev.data["position"].(float64)] = ev.data["state"].(string)
				require.Equal(t, "ghost", ev.data["person_id"])
				require.Equal(t, "ID_NOT_FOUND", ev.data["error"].(map[string]any)["code"])
			}
		}
		first.cancel()
		require.NotEmpty(t, lastID)

		// The rest happens while nobody listens; the resumed stream catches up and completes.
		gate.release()
		c.waitCompleted(id)
		resumed := openEvents(t, env.HTTP.URL, id, lastID)
		var completed map[string]any
		for completed == nil {
			ev, ok := resumed.next(t, 20*time.Second)
			require.True(t, ok, "stream ended before completed")
			switch ev.event {
			case "item":
				require.NotContains(t, seen, ev.data["position"], "an item sent before the drop is not sent again")
				seen[ev.data["position"].(float64)] = ev.data["state"].(string)
			case "completed":
				completed = ev.data
			}
		}
		require.Equal(t, map[float64]string{0: "deleted", 1: "failed", 2: "deleted", 3: "deleted"}, seen)
		require.Equal(t, 4.0, completed["total"])
		require.Equal(t, 3.0, completed["deleted"])
		require.Equal(t, 1.0, completed["failed"])
		require.Equal(t, "completed", completed["state"])
		_, ok := <-resumed.events
		require.False(t, ok, "the stream ends after completed")

		// A new client of a completed deletion gets the counters and the completion at once.
		fresh := openEvents(t, env.HTTP.URL, id, "")
		ev, _ := fresh.next(t, 5*time.Second)
		require.Equal(t, "progress", ev.event)
		require.Equal(t, 0.0, ev.data["pending"])
		ev, _ = fresh.next(t, 5*time.Second)
		require.Equal(t, "completed", ev.event)
		require.NotEmpty(t, ev.id)
	})
}
