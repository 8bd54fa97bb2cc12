package native

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/app"
)

// sseKeepalive is how often an idle event stream gets a comment line, so that proxies and load
// balancers do not close it for silence.
const sseKeepalive = 15 * time.Second

func (api *API) registerEvents(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/deletions/{id}/events", api.deletionEvents)
}

// progressJSON is a progress event: the request's counters, without what never changes.
type progressJSON struct {
	deletionCountsJSON
	CompletedAt *time.Time `json:"completed_at"`
}

type itemEventJSON struct {
	Position int64 `json:"position"`
	itemJSON
}

// deletionEvents streams a deletion's progress as Server-Sent Events: "progress" (the
// counters), "item" (one item's outcome, as GET .../items shows it) and finally "completed".
// Each event's id is a log position: a client that lost the stream reconnects with
// Last-Event-ID (EventSource does it by itself) and gets everything after it, nothing lost.
func (api *API) deletionEvents(w http.ResponseWriter, r *http.Request) {
	var after uint64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			writeError(w, fmt.Errorf("%w: Last-Event-ID must be the id of an event of this stream", app.ErrInvalidArgument))
			return
		}
		after = n
	}
	// Held until the stream ends: a client that goes away gives its slot back.
	release, err := api.streams.acquire(r)
	if err != nil {
		w.Header().Set("Retry-After", streamRetryAfter)
		writeError(w, err)
		return
	}
	defer release()
	flusher, _ := w.(http.Flusher)
	var (
		mu      sync.Mutex
		started bool
	)
	start := func() {
		if started {
			return
		}
		started = true
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no") // nginx: pass events on as they come
		w.WriteHeader(http.StatusOK)
	}
	send := func(u app.DeletionUpdate) error {
		var data any
		switch u.Kind {
		case app.UpdateItem:
			it := itemEventJSON{Position: u.Item.Position, itemJSON: itemJSON{PersonID: u.Item.PersonID, State: u.Item.State}}
			if u.Item.ErrorCode != "" {
				it.Error = &itemError{Code: u.Item.ErrorCode, Message: u.Item.ErrorMessage, Step: u.Item.ErrorStep}
			}
			data = it
		default:
			d := u.Progress
			data = progressJSON{deletionCountsJSON: toDeletionCountsJSON(d), CompletedAt: utcPtr(d.CompletedAt)}
		}
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		var sb strings.Builder
		if u.Seq != 0 {
			fmt.Fprintf(&sb, "id: %d\n", u.Seq)
		}
		fmt.Fprintf(&sb, "event: %s\ndata: %s\n\n", u.Kind, b)
		mu.Lock()
		defer mu.Unlock()
		start()
		if _, err := w.Write([]byte(sb.String())); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	// Keepalives come from a goroutine of their own; it is stopped and waited for before the
	// handler returns, so nothing writes to w afterwards.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(sseKeepalive)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				mu.Lock()
				if started {
					_, _ = w.Write([]byte(": keepalive\n\n"))
					if flusher != nil {
						flusher.Flush()
					}
				}
				mu.Unlock()
			}
		}
	}()
	err = api.app.FollowDeletion(r.Context(), r.PathValue("id"), after, send)
	close(stop)
	wg.Wait()
	if err != nil && !started && r.Context().Err() == nil {
		writeError(w, err)
	}
}
