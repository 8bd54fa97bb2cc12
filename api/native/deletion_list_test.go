package native_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/sagas"
	"github.com/erasure-dev/erasure/service"
	"github.com/erasure-dev/erasure/stores"
)

// waitDone polls a deletion until its last item is terminal and returns it.
func waitDone(t *testing.T, c *http.Client, base, id string) map[string]any {
	t.Helper()
	var d map[string]any
	require.Eventually(t, func() bool {
		status, body := call(t, c, http.MethodGet, base+"/v1/deletions/"+id, "")
		d = body
		return status == http.StatusOK && body["completed_at"] != nil
	}, 30*time.Second, 20*time.Millisecond, "deletion %s never completed", id)
	return d
}

func requireCode(t *testing.T, status int, body map[string]any, want int, code string) {
	t.Helper()
	require.Equal(t, want, status, body)
	require.Equal(t, code, body["error"].(map[string]any)["code"], body)
}

// GET /v1/deletions lists the requests of every surface newest first, each as GET
// /v1/deletions/{id} answers it plus who requested it and through which surface; filters and
// pages compose without duplicates or gaps.
func TestListDeletions(t *testing.T) {
	const keyA, keyB = "alpha-0123456789abcdef", "bravo-0123456789abcdef"
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		cfg := testenv.Config(t, dialect)
		cfg.APIKeys = "alpha:" + keyA + ",bravo:" + keyB
		env := testenv.Start(t, cfg)
		base := env.HTTP.URL
		a, b := keyedClient(keyA), keyedClient(keyB)
		post := func(c *http.Client, path, body string) map[string]any {
			t.Helper()
			status, ans := call(t, c, http.MethodPost, base+path, body)
			require.Contains(t, []int{http.StatusOK, http.StatusCreated, http.StatusAccepted}, status, ans)
			return ans
		}
		post(a, "/v1/groups", `{"group_id":"gx","name":"G"}`)
		for i, id := range []string{"n1", "s1", "m1"} {
			groups := `[]`
			if id == "m1" {
				groups = `["gx"]`
			}
			post(a, "/v1/persons", fmt.Sprintf(`{"person_id":%q,"name":"N","group_ids":%s,"photos":[{"image_base64":%q}]}`, id, groups, photo(t, 900+i)))
		}

		// In creation order: native (alpha), Sophon deleteidentities (bravo), a group's
		// deletion (alpha), then more native requests (bravo) to page through.
		var created []string
		created = append(created, post(a, "/v1/deletions", `{"person_ids":["n1","ghost"]}`)["deletion_id"].(string))
		sophon := post(b, "/sophon/v2/face/deleteidentities", `{"identity_ids":["s1"]}`)
		require.Equal(t, []any{"s1"}, sophon["success_identity_ids"], sophon)
		created = append(created, sophon["request_id"].(string))
		status, gd := call(t, a, http.MethodDelete, base+"/v1/groups/gx", "")
		require.Equal(t, http.StatusAccepted, status, gd)
		created = append(created, gd["deletion_id"].(string))
		for i := range 4 {
			created = append(created, post(b, "/v1/deletions", fmt.Sprintf(`{"person_ids":["nobody-%d"]}`, i))["deletion_id"].(string))
		}
		single := map[string]map[string]any{}
		for _, id := range created {
			waitDone(t, a, base, id)
			status, d := call(t, a, http.MethodGet, base+"/v1/deletions/"+id, "")
			require.Equal(t, http.StatusOK, status)
			single[id] = d
		}

		list := func(query string) ([]map[string]any, string) {
			t.Helper()
			status, page := call(t, a, http.MethodGet, base+"/v1/deletions"+query, "")
			require.Equal(t, http.StatusOK, status, page)
			var out []map[string]any
			for _, d := range page["deletions"].([]any) {
				out = append(out, d.(map[string]any))
			}
			next, _ := page["next"].(string)
			return out, next
		}
		ids := func(ds []map[string]any) []string {
			var out []string
			for _, d := range ds {
				out = append(out, d["deletion_id"].(string))
			}
			return out
		}

		// New deletion IDs are UUIDv7: they sort as they were made, on every surface.
		require.True(t, slices.IsSorted(created), "ids in creation order: %v", created)
		for _, id := range created {
			require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id)
		}

		all, next := list("")
		require.Empty(t, next, "one page holds them all")
		newestFirst := slices.Clone(created)
		slices.Reverse(newestFirst)
		require.Equal(t, newestFirst, ids(all))
		want := map[string][2]string{created[0]: {"alpha", "native"}, created[1]: {"bravo", "sophon"}, created[2]: {"alpha", "group"}}
		for _, d := range all {
			id := d["deletion_id"].(string)
			who, ok := want[id]
			if !ok {
				who = [2]string{"bravo", "native"}
			}
			require.Equal(t, who[0], d["actor"], id)
			require.Equal(t, who[1], d["source"], id)
			// Exactly the single request's answer, plus actor and source.
			rest := map[string]any{}
			for k, v := range d {
				if k != "actor" && k != "source" {
					rest[k] = v
				}
			}
			require.Equal(t, single[id], rest)
		}
		require.Equal(t, "gx", all[len(all)-3]["group_id"])

		// Filters.
		got, _ := list("?actor=bravo")
		require.Equal(t, []string{created[6], created[5], created[4], created[3], created[1]}, ids(got))
		got, _ = list("?state=completed")
		require.Equal(t, newestFirst, ids(got))
		got, _ = list("?state=cancelled")
		require.Empty(t, got)
		at := func(id string) string { return single[id]["created_at"].(string) }
		got, _ = list("?since=" + url.QueryEscape(at(created[2])))
		require.Equal(t, newestFirst[:5], ids(got))
		got, _ = list("?until=" + url.QueryEscape(at(created[2])))
		require.Equal(t, newestFirst[4:], ids(got))
		got, _ = list("?since=" + url.QueryEscape(at(created[1])) + "&until=" + url.QueryEscape(at(created[3])) + "&actor=alpha")
		require.Equal(t, []string{created[2]}, ids(got))

		// Pages of 2 and of 3, with and without a filter: together exactly the whole list.
		for _, tc := range []struct {
			query string
			want  []string
		}{{"", newestFirst}, {"&actor=bravo", []string{created[6], created[5], created[4], created[3], created[1]}}} {
			for _, size := range []int{1, 2, 3} {
				var paged []string
				after := ""
				for pages := 0; ; pages++ {
					require.Less(t, pages, 10)
					got, next := list(fmt.Sprintf("?limit=%d&after=%s%s", size, after, tc.query))
					require.LessOrEqual(t, len(got), size)
					paged = append(paged, ids(got)...)
					if next == "" {
						break
					}
					require.Equal(t, url.QueryEscape(next), next, "the cursor is URL-safe")
					after = next
				}
				require.Equal(t, tc.want, paged, "limit %d%s", size, tc.query)
			}
		}

		// Refused parameters.
		for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?after=%21%21", "?after=bm90LWEtY3Vyc29y",
			"?since=yesterday", "?until=2025-13-01", "?state=done"} {
			status, body := call(t, a, http.MethodGet, base+"/v1/deletions"+q, "")
			requireCode(t, status, body, http.StatusBadRequest, "INVALID_ARGUMENT")
		}
	})
}

// failingStore fails the face or photo purge of chosen persons until healed.
type failingStore struct {
	sagas.Stores
	mu            sync.Mutex
	faces, photos map[string]bool
}

var errStoreDown = errors.New("store down")

func (s *failingStore) refuses(set map[string]bool, ids []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if set[id] {
			return true
		}
	}
	return false
}

func (s *failingStore) PurgeFaces(ctx context.Context, ids []string) error {
	if s.refuses(s.faces, ids) {
		return errStoreDown
	}
	return s.Stores.PurgeFaces(ctx, ids)
}

func (s *failingStore) PurgePhotos(ctx context.Context, photos []events.PersonPhotos) error {
	ids := make([]string, len(photos))
	for i, p := range photos {
		ids[i] = p.PersonID
	}
	if s.refuses(s.photos, ids) {
		return errStoreDown
	}
	return s.Stores.PurgePhotos(ctx, photos)
}

func (s *failingStore) heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faces, s.photos = nil, nil
}

// GET /v1/deletions/{id}/failures groups the failed items by code, step and target, the
// largest group first; POST .../retry with a group retries that group's items only.
func TestDeletionFailuresAndRetryOfOneGroup(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		store := &failingStore{faces: map[string]bool{"fa1": true, "fa2": true}, photos: map[string]bool{"fb1": true}}
		env := testenv.Start(t, testenv.Config(t, dialect),
			service.WithTarget(func(b *stores.Builtin) sagas.Stores { store.Stores = b; return store }),
			service.WithRetry(sagas.Retry{Attempts: 1, Initial: time.Millisecond, Max: time.Millisecond}))
		c := client{t, env.HTTP.URL}
		for i, id := range []string{"fa1", "fa2", "fb1", "ok1"} {
			c.createPerson(id, 700+i)
		}
		status, body := c.post("/v1/deletions", `{"person_ids":["ghost-c","fb1","fa2","ok1","ghost-a","fa1","ghost-b","ghost-d","ghost-e","ghost-f"]}`)
		require.Equal(t, http.StatusAccepted, status, body)
		id := body["deletion_id"].(string)
		d := c.waitCompleted(id)
		require.Equal(t, 9.0, d["failed"], d)

		group := func(code, step string, count int, examples ...any) map[string]any {
			return map[string]any{"code": code, "step": step, "target": "", "count": float64(count), "examples": examples}
		}
		status, f := c.get("/v1/deletions/" + id + "/failures")
		require.Equal(t, http.StatusOK, status, f)
		require.Equal(t, []any{
			group("ID_NOT_FOUND", "", 6, "ghost-a", "ghost-b", "ghost-c", "ghost-d", "ghost-e"),
			group("STEP_FAILED", "purge_faces", 2, "fa1", "fa2"),
			group("STEP_FAILED", "purge_photos", 1, "fb1"),
		}, f["groups"])

		status, f = c.get("/v1/deletions/nope/failures")
		requireCode(t, status, f, http.StatusNotFound, "NOT_FOUND")
		status, f = c.post("/v1/deletions/"+id+"/retry", `{"code":"STEP_FAILED","colour":"red"}`)
		requireCode(t, status, f, http.StatusBadRequest, "UNKNOWN_FIELD")

		// Only the photo group runs again.
		store.heal()
		status, r := c.post("/v1/deletions/"+id+"/retry", `{"code":"STEP_FAILED","step":"purge_photos","target":""}`)
		require.Equal(t, http.StatusAccepted, status, r)
		require.Equal(t, 1.0, r["retried"])
		require.Eventually(t, func() bool {
			_, d = c.get("/v1/deletions/" + id)
			return d["deleted"] == 2.0 && d["pending"] == 0.0
		}, 30*time.Second, 20*time.Millisecond, "fb1 never deleted: %v", d)
		require.Equal(t, 8.0, d["failed"], d)
		_, f = c.get("/v1/deletions/" + id + "/failures")
		require.Equal(t, []any{
			group("ID_NOT_FOUND", "", 6, "ghost-a", "ghost-b", "ghost-c", "ghost-d", "ghost-e"),
			group("STEP_FAILED", "purge_faces", 2, "fa1", "fa2"),
		}, f["groups"])
		status, _ = c.get("/v1/persons/fa1")
		require.Equal(t, http.StatusOK, status, "fa1 was not retried: still deleting")

		// A group with nothing retryable retries nothing; no body retries the rest.
		status, r = c.post("/v1/deletions/"+id+"/retry", `{"code":"ID_NOT_FOUND"}`)
		require.Equal(t, http.StatusAccepted, status, r)
		require.Equal(t, 0.0, r["retried"])
		status, r = c.do(http.MethodPost, "/v1/deletions/"+id+"/retry", "", "")
		require.Equal(t, http.StatusAccepted, status, r)
		require.Equal(t, 2.0, r["retried"])
		require.Eventually(t, func() bool {
			_, d = c.get("/v1/deletions/" + id)
			return d["deleted"] == 4.0 && d["pending"] == 0.0
		}, 30*time.Second, 20*time.Millisecond, "never all deleted: %v", d)
		_, f = c.get("/v1/deletions/" + id + "/failures")
		require.Equal(t, []any{group("ID_NOT_FOUND", "", 6, "ghost-a", "ghost-b", "ghost-c", "ghost-d", "ghost-e")}, f["groups"])
	})
}
