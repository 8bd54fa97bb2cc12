package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/sagas"
	"github.com/erasure-dev/erasure/service"
	"github.com/erasure-dev/erasure/stores"
)

// heldTarget holds every deletion at its first step until released, and refuses to purge the
// faces of the person named failing, whatever the retries.
type heldTarget struct {
	sagas.Stores
	failing string
	open    chan struct{}
	once    sync.Once
}

func (h *heldTarget) release() { h.once.Do(func() { close(h.open) }) }

func (h *heldTarget) UnbindPermissionGroups(ctx context.Context, ids []string) error {
	select {
	case <-h.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return h.Stores.UnbindPermissionGroups(ctx, ids)
}

func (h *heldTarget) PurgeFaces(ctx context.Context, ids []string) error {
	if slices.Contains(ids, h.failing) {
		return errors.New("face store refuses")
	}
	return h.Stores.PurgeFaces(ctx, ids)
}

// logLines returns the lines of a text log whose message is msg and that carry every attr
// (key=value).
func logLines(logs, msg string, attrs ...string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, `msg="`+msg+`"`) {
			continue
		}
		fields := strings.Fields(line)
		all := true
		for _, a := range attrs {
			all = all && slices.Contains(fields, a)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// Issue 19: while deletions run, /metrics shows them and their pending items (read from the read
// model when scraped); as their items end, the outcome counters move by outcome and code (the
// intake's DUPLICATE_ID and the dispatcher's ID_NOT_FOUND included, which no saga sees); each
// deletion writes one "deletion completed" line and each failure one "deletion item failed",
// and no person's name reaches the log.
func TestDeletionMetricsAndLogLines(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		cfg := testenv.Config(t, dialect)
		var logs logBuffer
		target := &heldTarget{failing: "p2", open: make(chan struct{})}
		t.Cleanup(target.release) // before the service closes (cleanups run last first)
		ctx := context.Background()
		svc, err := service.Open(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)),
			service.WithRetry(sagas.Retry{Attempts: 3, Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}),
			service.WithTarget(func(b *stores.Builtin) sagas.Stores { target.Stores = b; return target }))
		require.NoError(t, err)
		t.Cleanup(svc.Close)
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		require.NoError(t, svc.WaitCaughtUp(waitCtx))
		srv := httptest.NewServer(svc.Handler())
		t.Cleanup(srv.Close)
		c := http.DefaultClient

		names := []string{"Zhang Sanfeng", "Li Xiaolong"}
		for i, id := range []string{"p1", "p2"} {
			a := send(t, c, "POST", srv.URL+"/v1/persons", "", "application/json", `{"person_id":"`+id+`","name":"`+names[i]+`"}`)
			require.Equal(t, http.StatusCreated, a.status, a.body)
		}
		deletion := func(body string) string {
			a := send(t, c, "POST", srv.URL+"/v1/deletions", "", "application/json", body)
			require.Equal(t, http.StatusAccepted, a.status, a.body)
			var d struct {
				DeletionID string `json:"deletion_id"`
			}
			require.NoError(t, json.Unmarshal([]byte(a.body), &d))
			return d.DeletionID
		}
		first := deletion(`{"person_ids":["p1","nobody","p1"]}`)
		second := deletion(`{"person_ids":["p2"]}`)

		scrape := func() string { return send(t, c, "GET", srv.URL+"/metrics", "", "", "").body }
		// Held at their first step: both running, a person each pending, the duplicate refused at
		// intake and the unknown ID at dispatch.
		// The gauges are read from the read model when scraped, the counters move as the
		// projection's batches are observed, just after they commit: both are awaited.
		var m string
		missing := func(wants ...string) []string {
			m = scrape()
			var out []string
			for _, w := range wants {
				if !strings.Contains(m, w) {
					out = append(out, w)
				}
			}
			return out
		}
		held := []string{
			`erasure_deletions_running 2`,
			`erasure_deletion_items{state="pending"} 2`,
			`erasure_deletion_items{state="failed"} 2`,
			`erasure_deletion_items{state="deleted"} 0`,
			`erasure_deletion_item_outcomes_total{code="DUPLICATE_ID",outcome="failed"} 1`,
			`erasure_deletion_item_outcomes_total{code="ID_NOT_FOUND",outcome="failed"} 1`,
		}
		assert.Eventually(t, func() bool { return len(missing(held...)) == 0 }, 20*time.Second, 20*time.Millisecond)
		require.Empty(t, missing(held...), "while the deletions are held")
		require.NotContains(t, m, `outcome="deleted"`, "nothing deleted while held")

		target.release()
		done := []string{
			`erasure_deletions_running 0`,
			`erasure_deletion_seconds_count 2`,
			`erasure_deletion_items{state="pending"} 0`,
			`erasure_deletion_item_outcomes_total{code="OK",outcome="deleted"} 1`,
			`erasure_deletion_item_outcomes_total{code="STEP_FAILED",outcome="failed"} 1`,
			`erasure_deletion_item_outcomes_total{code="ID_NOT_FOUND",outcome="failed"} 1`,
			`erasure_deletion_item_outcomes_total{code="DUPLICATE_ID",outcome="failed"} 1`,
			`erasure_person_deletion_failures_total{code="STEP_FAILED",step="purge_faces"} 1`,
		}
		assert.Eventually(t, func() bool { return len(missing(done...)) == 0 }, 30*time.Second, 20*time.Millisecond)
		require.Empty(t, missing(done...), "once the deletions completed")
		out := logs.String()
		for _, name := range append(names, "Zhang", "Xiaolong") {
			require.NotContains(t, out, name, "a person's name reached the log")
		}
		seconds := regexp.MustCompile(` seconds=[0-9.e+-]+`)
		for _, tt := range []struct {
			msg   string
			attrs []string
		}{
			{"deletion completed", []string{"level=INFO", "deletion_id=" + first, "total=3", "deleted=1", "failed=2", "cancelled=0"}},
			{"deletion completed", []string{"level=INFO", "deletion_id=" + second, "total=1", "deleted=0", "failed=1", "cancelled=0"}},
			{"deletion item failed", []string{"level=WARN", "deletion_id=" + first, "code=DUPLICATE_ID", "step=intake", "items=1"}},
			{"deletion item failed", []string{"level=WARN", "deletion_id=" + first, "code=ID_NOT_FOUND", "step=dispatch", "items=1"}},
			{"deletion item failed", []string{"level=WARN", "deletion_id=" + second, "person_id=p2", "code=STEP_FAILED", "step=purge_faces"}},
		} {
			lines := logLines(out, tt.msg, tt.attrs...)
			require.Len(t, lines, 1, "one %q line with %v in:\n%s", tt.msg, tt.attrs, out)
			if tt.msg == "deletion completed" {
				require.Regexp(t, seconds, lines[0], "the line says how long the deletion took")
			}
		}
		require.Len(t, logLines(out, "deletion item failed"), 3, "no other item failed")
	})
}
