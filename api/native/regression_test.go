package native_test

// Regression tests for what a review of a running server found to hold (issue 15): they keep
// it holding.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// An ID outside [A-Za-z0-9_\-%@#&] never reaches a subject or a path: a write is refused
// INVALID_ID and records nothing; a read by such an ID (a NATS wildcard, a path separator)
// finds nothing, never another person's data.
func TestIllegalIDsReachNoSubjectOrPath(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	c := client{t, env.HTTP.URL}
	c.createPerson("p1", 1)
	status, body := c.post("/v1/groups", `{"group_id":"g1","name":"G"}`)
	require.Equal(t, http.StatusCreated, status, body)
	last := env.LastSeq(t)

	for _, id := range []string{"a.b", "*", ">", "p1.>", "erasure.>", "a/b", "../p1", "a b", "p1\x00"} {
		q, e := url.QueryEscape(id), url.PathEscape(id)
		js, err := json.Marshal(id)
		require.NoError(t, err)
		for _, tc := range []struct {
			method, path, body string
			status             int
			code               string
		}{
			{"POST", "/v1/persons", fmt.Sprintf(`{"person_id":%s,"name":"n"}`, js), 400, "INVALID_ID"},
			{"POST", "/v1/persons", fmt.Sprintf(`{"person_id":"ok1","name":"n","group_ids":[%s]}`, js), 400, "INVALID_ID"},
			{"POST", "/v1/groups", fmt.Sprintf(`{"group_id":%s,"name":"n"}`, js), 400, "INVALID_ID"},
			{"DELETE", "/v1/groups/" + e, "", 400, "INVALID_ID"},
			{"GET", "/v1/receipts/" + e, "", 400, "INVALID_ID"},
			{"GET", "/v1/audit?person_id=" + q, "", 400, "INVALID_ID"},
			{"GET", "/v1/persons/" + e, "", 404, "PERSON_NOT_FOUND"},
			{"GET", "/v1/groups/" + e, "", 404, "GROUP_NOT_FOUND"},
			{"GET", "/v1/deletions/" + e, "", 404, "NOT_FOUND"},
			{"GET", "/v1/deletions/" + e + "/items", "", 404, "NOT_FOUND"},
			{"GET", "/v1/deletions/" + e + "/events", "", 404, "NOT_FOUND"},
			{"POST", "/v1/deletions/" + e + "/cancel", "", 404, "NOT_FOUND"},
			{"POST", "/v1/deletions/" + e + "/retry", "", 404, "NOT_FOUND"},
		} {
			name := fmt.Sprintf("%s %s (%q)", tc.method, tc.path, id)
			status, body := c.do(tc.method, tc.path, map[bool]string{true: "application/json"}[tc.body != ""], tc.body)
			require.Equal(t, tc.status, status, "%s: %v", name, body)
			require.Equal(t, tc.code, body["error"].(map[string]any)["code"], name)
		}
		// A deletion request names an illegal ID as a failed item, and deletes nothing for it.
		status, body := c.post("/v1/deletions", fmt.Sprintf(`{"person_ids":[%s]}`, js))
		if status == http.StatusAccepted {
			d := c.waitCompleted(body["deletion_id"].(string))
			require.Equal(t, 1.0, d["failed"], "deletion of %q: %v", id, d)
		} else {
			require.Equal(t, http.StatusBadRequest, status, "deletion of %q: %v", id, body)
		}
	}
	// p1 is untouched, and every refused write recorded nothing (the deletions only recorded
	// their own requests and outcomes, none on a person's subject).
	status, body = c.get("/v1/persons/p1")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "active", body["state"])
	for _, r := range env.EventsSince(t, last) {
		require.Equal(t, "deletion", r.Aggregate, "%s on %s/%s after only refused or illegal requests", r.Type, r.Aggregate, r.AggregateID)
	}
}

// Query parameters reach SQL as parameters, never as SQL text: a value with quotes and SQL in
// it is only a value that matches nothing (or is refused by its format), never a wider query
// or a server error.
func TestQuotesInQueryParametersAreOnlyValues(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	c := client{t, env.HTTP.URL}
	status, body := c.post("/v1/groups", `{"group_id":"staff","name":"Staff"}`)
	require.Equal(t, http.StatusCreated, status, body)
	status, body = c.post("/v1/persons", fmt.Sprintf(`{"person_id":"q1","name":"Q","group_ids":["staff"],"photos":[{"image_base64":%q}]}`, photo(t, 7)))
	require.Equal(t, http.StatusCreated, status, body)
	status, body = c.post("/v1/deletions", `{"person_ids":["q1","nobody"]}`)
	require.Equal(t, http.StatusAccepted, status, body)
	deletion := body["deletion_id"].(string)
	c.waitCompleted(deletion)

	status, body = c.get("/v1/persons?group_id=staff")
	require.Equal(t, http.StatusOK, status, body)
	for _, inject := range []string{`' OR '1'='1`, `staff' --`, `staff'; DROP TABLE persons; --`, `" OR ""="`, `staff%' OR 'x' LIKE '%`} {
		q := url.QueryEscape(inject)
		for _, tc := range []struct {
			path  string
			empty string // the list that must be empty in a 200 answer
		}{
			{"/v1/persons?group_id=" + q, "persons"},
			{"/v1/persons?after=" + q, ""},
			{"/v1/groups?after=" + q, ""},
			{"/v1/audit?request_id=" + q, "entries"},
			{"/v1/audit?since=" + q, ""},
			{"/v1/deletions/" + deletion + "/items?state=" + q, "items"},
			{"/v1/deletions/" + deletion + "/items?after=" + q, ""},
			{"/v1/webhooks?after=" + q, ""},
		} {
			status, body := c.get(tc.path)
			require.Contains(t, []int{http.StatusOK, http.StatusBadRequest}, status, "%s: %v", tc.path, body)
			if status == http.StatusBadRequest {
				require.Contains(t, []any{"INVALID_ARGUMENT", "INVALID_ID"}, body["error"].(map[string]any)["code"], tc.path)
				continue
			}
			if tc.empty != "" {
				require.Empty(t, body[tc.empty], "%s matched rows", tc.path)
			}
		}
	}
	// The tables are all still there.
	status, body = c.get("/v1/deletions/" + deletion + "/items")
	require.Equal(t, http.StatusOK, status, body)
	require.Len(t, body["items"], 2)
	status, body = c.get("/v1/groups/staff")
	require.Equal(t, http.StatusOK, status, body)
}

// The limits on `limit` and on JSON nesting hold: out of range is a 400 in the API's format,
// never a 500.
func TestLimitsOnLimitAndNesting(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	c := client{t, env.HTTP.URL}
	c.createPerson("l1", 3)
	status, body := c.post("/v1/deletions", `{"person_ids":["l1"]}`)
	require.Equal(t, http.StatusAccepted, status, body)
	deletion := body["deletion_id"].(string)
	c.waitCompleted(deletion)

	for _, path := range []string{"/v1/persons", "/v1/groups", "/v1/audit", "/v1/deletions/" + deletion + "/items"} {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		for _, limit := range []string{"0", "-1", "1001", "1000000000000", "abc", "1e3"} {
			status, body := c.get(path + sep + "limit=" + limit)
			require.Equal(t, http.StatusBadRequest, status, "%s limit=%s: %v", path, limit, body)
			require.Equal(t, "INVALID_ARGUMENT", body["error"].(map[string]any)["code"], "%s limit=%s", path, limit)
		}
		status, body := c.get(path + sep + "limit=1000")
		require.Equal(t, http.StatusOK, status, "%s limit=1000: %v", path, body)
	}

	// Nesting: JSON nested deeper than the decoder allows (10,000 levels) is refused as JSON,
	// in the format, within the body limits.
	for _, deep := range []string{strings.Repeat("[", 20000), `{"person_ids":` + strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000) + `}`,
		`{"group_id":"n1","name":"n","tag":` + strings.Repeat(`[`, 12000) + strings.Repeat(`]`, 12000) + `}`} {
		for _, path := range []string{"/v1/groups", "/v1/deletions"} {
			status, body := c.post(path, deep)
			require.Equal(t, http.StatusBadRequest, status, "%s: %v", path, body)
			require.Contains(t, []any{"INVALID_JSON", "INVALID_ARGUMENT"}, body["error"].(map[string]any)["code"], path)
		}
	}

}

// A streamed line is kept to its first 4096 bytes, so an endless line costs bounded memory and
// ends as one item refused for its length. The server runs in this process and its allocations
// are measured, so the test runs alone (not parallel: parallel tests wait until it is done).
func TestLongStreamedLineIsBounded(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	c := client{t, env.HTTP.URL}
	c.createPerson("l1", 3)
	status, body := c.post("/v1/deletions", `{"person_ids":["l1"]}`)
	require.Equal(t, http.StatusAccepted, status, body)
	c.waitCompleted(body["deletion_id"].(string))
	for _, ct := range []string{"text/plain", "application/x-ndjson"} {
		const lineBytes = 64 << 20
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		req, err := http.NewRequest(http.MethodPost, env.HTTP.URL+"/v1/deletions", io.MultiReader(
			strings.NewReader(`"`), &endlessLine{n: lineBytes}, strings.NewReader("\"\nl1\n")))
		require.NoError(t, err)
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		resp.Body.Close()
		runtime.ReadMemStats(&after)
		require.Equal(t, http.StatusAccepted, resp.StatusCode, "%s: %v", ct, body)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(lineBytes/2), "%s: a %d-byte line was buffered", ct, lineBytes)
		d := c.waitCompleted(body["deletion_id"].(string))
		require.Equal(t, 2.0, d["total"], ct)
		require.Equal(t, 2.0, d["failed"], "%s: the long line and the already deleted person: %v", ct, d)
		status, items := c.get("/v1/deletions/" + body["deletion_id"].(string) + "/items")
		require.Equal(t, http.StatusOK, status)
		first := items["items"].([]any)[0].(map[string]any)
		require.LessOrEqual(t, len(first["person_id"].(string)), 4096, ct)
		require.Contains(t, []any{"INVALID_ID", "ID_TOO_LONG", "INVALID_BODY"}, first["error"].(map[string]any)["code"], ct)
	}
}

// endlessLine reads as n bytes of 'x' without holding them.
type endlessLine struct{ n int }

func (l *endlessLine) Read(p []byte) (int, error) {
	if l.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), l.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	l.n -= k
	return k, nil
}
