package console_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/receipts"
)

// deleted seeds persons p-0..p-(n-1) through /v1 with key and deletes the first del of them,
// waiting until the deletion has completed; it returns the deletion's ID.
func deleted(t *testing.T, env *testenv.Env, key string, n, del int) string {
	t.Helper()
	seed(t, env.HTTP.URL, key, n)
	var ids []string
	for i := range del {
		ids = append(ids, fmt.Sprintf("p-%d", i))
	}
	id := requestDeletion(t, env.HTTP.URL, key, ids...)
	require.Eventually(t, func() bool {
		_, d := api(t, env.HTTP.URL, key, "GET", "/v1/deletions/"+id, "")
		return d["state"] == "completed"
	}, 30*time.Second, 50*time.Millisecond, "the deletion completes")
	require.NoError(t, env.Svc.WaitCaughtUp(context.Background()), "the audit trail holds every event")
	return id
}

// noName fails if a page shows the name persons were registered under, or any inline script or
// style (the CSP would block it).
func noName(t *testing.T, name, body string) {
	t.Helper()
	require.NotContains(t, body, personName, name)
	require.NotContains(t, body, "Zorblax", name)
	require.NotRegexp(t, `<script(?:\s[^>]*)?>\s*[^<\s]`, body, name)
	require.NotContains(t, body, " style=", name)
}

var auditRowSeq = regexp.MustCompile(`<tr data-seq="(\d+)">`)

func TestAuditSearchVerifyAndAsOfWithAReadOnlyKey(t *testing.T) {
	env := keyed(t)
	before := time.Now().UTC()
	id := deleted(t, env, opsKey, 3, 2)
	b := newBrowser(t, env.HTTP.URL, nil)
	require.Equal(t, http.StatusSeeOther, b.login(auditorKey).status)

	// By person: the person's trail, from registration to deletion, and nobody else's.
	p := b.get("/ui/audit?person_id=p-0")
	require.Equal(t, http.StatusOK, p.status, p.body)
	noName(t, "by person", p.body)
	require.Contains(t, p.body, "oldest first")
	for _, action := range []string{"PersonCreated", "DeletionRequested", "PersonDeleted"} {
		require.Contains(t, p.body, `<code class="action">`+action+`</code>`)
	}
	rows := strings.Split(p.body, `<tr data-seq=`)[1:]
	require.NotEmpty(t, rows)
	for _, row := range rows {
		require.Contains(t, row, "<code>p-0</code>", "every entry names p-0")
	}
	require.NotContains(t, p.body, "<code>p-2</code>", "p-2 was registered, never deleted with p-0")

	// By request: the deletion's entries.
	p = b.get("/ui/audit?request_id=" + id)
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `<code class="action">DeletionRequested</code>`)
	require.Contains(t, p.body, "<code>p-1</code>")
	require.NotContains(t, p.body, `<code class="action">PersonCreated</code>`, "registrations belong to other requests")

	// By time: nothing after tomorrow, everything since before the seed; the datetime-local form is UTC.
	tomorrow := before.Add(24 * time.Hour).Format("2006-01-02T15:04")
	p = b.get("/ui/audit?from=" + tomorrow)
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, "No audit entry matches.")
	require.Contains(t, p.body, `value="`+tomorrow+`"`, "the form shows the time back")
	p = b.get("/ui/audit?person_id=p-2&from=" + url.QueryEscape(before.Add(-time.Minute).Format(time.RFC3339)) + "&until=" + tomorrow)
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `<code class="action">PersonCreated</code>`)

	// Verify the chain: a GET, open to a read-only key.
	p = b.get("/ui/audit/verify")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `data-chain="ok"`)
	require.Contains(t, p.body, "The chain holds")

	// A person as of a time: active before the deletion, deleted now; IDs and state only.
	p = b.get("/ui/audit/as-of?person_id=p-0&time=" + url.QueryEscape(time.Now().UTC().Add(time.Minute).Format(time.RFC3339)))
	require.Equal(t, http.StatusOK, p.status, p.body)
	noName(t, "as of now", p.body)
	require.Contains(t, p.body, `data-state="deleted"`)
	var created string
	_, trail := api(t, env.HTTP.URL, opsKey, "GET", "/v1/audit?person_id=p-0", "")
	for _, e := range trail["entries"].([]any) {
		if e := e.(map[string]any); e["action"] == "PersonCreated" {
			created = e["time"].(string)
		}
	}
	require.NotEmpty(t, created)
	p = b.get("/ui/audit/as-of?person_id=p-0&time=" + url.QueryEscape(created))
	require.Equal(t, http.StatusOK, p.status, p.body)
	noName(t, "as of its registration", p.body)
	require.Contains(t, p.body, `data-state="active"`)
	require.Contains(t, p.body, "erased since", "its data key was destroyed since")
	p = b.get("/ui/audit/as-of?person_id=p-2&time=" + url.QueryEscape(time.Now().UTC().Format(time.RFC3339Nano)))
	require.Contains(t, p.body, `data-state="active"`)
	require.Contains(t, p.body, "held (never shown here)", "its name exists, and is not shown")
	p = b.get("/ui/audit/as-of?person_id=p-2&time=" + before.Add(-time.Hour).Format("2006-01-02T15:04"))
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `data-state="absent"`, "not yet registered then")
}

func TestAuditBadInputAnswersAPageSayingWhatToFix(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	deleted(t, env, "", 1, 1)
	b := newBrowser(t, env.HTTP.URL, nil)
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/ui/audit?person_id=" + url.QueryEscape("bad id!"), http.StatusBadRequest, "is not valid"},
		{"/ui/audit?request_id=" + strings.Repeat("r", 201), http.StatusBadRequest, "request ID"},
		{"/ui/audit?from=yesterday", http.StatusBadRequest, "2026-12-06T09:30"},
		{"/ui/audit?until=2026-13-01T00:00", http.StatusBadRequest, "is not a time"},
		{"/ui/audit?from=2026-12-06T10:00&until=2026-12-06T09:00", http.StatusBadRequest, "Until is before From"},
		{"/ui/audit?after=garbage", http.StatusBadRequest, "start from the first page"},
		{"/ui/audit/as-of?person_id=p-0", http.StatusBadRequest, "both a person ID and a time"},
		{"/ui/audit/as-of?person_id=p-0&time=noon", http.StatusBadRequest, "is not a time"},
		{"/ui/audit/as-of?person_id=" + url.QueryEscape("a/b") + "&time=2026-12-06T09:30", http.StatusBadRequest, "is not valid"},
		{"/ui/audit/as-of?person_id=never-seen&time=2026-12-06T09:30", http.StatusNotFound, "no entry for person never-seen"},
		{"/ui/audit?person_id=never-seen", http.StatusOK, "No audit entry matches."},
	} {
		p := b.get(tc.path)
		require.Equal(t, tc.status, p.status, tc.path)
		require.Contains(t, p.body, tc.says, tc.path)
		noName(t, tc.path, p.body)
	}
}

func TestAuditPagesInLogOrderWithAnOpaqueCursor(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	seed(t, env.HTTP.URL, "", 60)
	require.NoError(t, env.Svc.WaitCaughtUp(context.Background()))
	b := newBrowser(t, env.HTTP.URL, nil)

	seqs := func(body string) []string {
		var out []string
		for _, m := range auditRowSeq.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	first := b.get("/ui/audit")
	require.Equal(t, http.StatusOK, first.status)
	page1 := seqs(first.body)
	require.Len(t, page1, 50)
	require.Equal(t, "1", page1[0], "log order: the first entry first")
	next := regexp.MustCompile(`rel="next" href="/ui/audit\?after=([A-Za-z0-9_-]+)"`).FindStringSubmatch(first.body)
	require.NotNil(t, next, "an opaque, URL-safe cursor")
	require.NotEqual(t, page1[49], next[1], "the cursor is not the bare position")
	second := b.get("/ui/audit?after=" + next[1])
	require.Equal(t, http.StatusOK, second.status)
	page2 := seqs(second.body)
	require.Len(t, page2, 10, "60 registrations, 60 entries")
	require.Equal(t, "51", page2[0], "the next page starts after the last one shown")
	require.NotContains(t, second.body, `rel="next"`)

	// The cursor keeps the search: the next page of p-1's entries holds p-1's only.
	filtered := b.get("/ui/audit?person_id=p-1")
	require.Equal(t, []string{"2"}, seqs(filtered.body))
}

func TestAuditVerificationShowsWhereTheChainBreaks(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	seed(t, env.HTTP.URL, "", 5)
	require.NoError(t, env.Svc.WaitCaughtUp(context.Background()))
	_, err := env.Svc.DBs.ReadModel.Exec(`UPDATE audit_log SET outcome = 'nothing happened' WHERE seq = 3`)
	require.NoError(t, err)

	b := newBrowser(t, env.HTTP.URL, nil)
	p := b.get("/ui/audit/verify")
	require.Equal(t, http.StatusConflict, p.status, "a break answers 409, as /v1/audit/verify does")
	require.Contains(t, p.body, `data-chain="broken"`)
	require.Contains(t, p.body, "breaks</strong> at log position 3")
	m := regexp.MustCompile(`href="(/ui/audit\?after=[A-Za-z0-9_-]+)">Show the trail from there`).FindStringSubmatch(p.body)
	require.NotNil(t, m)
	from := b.get(m[1])
	require.Equal(t, http.StatusOK, from.status)
	require.Equal(t, "3", auditRowSeq.FindStringSubmatch(from.body)[1], "the link lists the broken entry first")
	require.Contains(t, from.body, "nothing happened")
}

// uploadReceipt posts file to the upload verifier as the browser's form does.
func uploadReceipt(b *browser, token string, file []byte) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if token != "" {
		require.NoError(b.t, mw.WriteField("csrf", token))
	}
	if file != nil {
		fw, err := mw.CreateFormFile("file", "receipt.json")
		require.NoError(b.t, err)
		_, err = fw.Write(file)
		require.NoError(b.t, err)
	}
	require.NoError(b.t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, b.base+"/ui/receipts/verify", &body)
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.base)
	return b.do(req)
}

// v1Receipt is the receipt file /v1 answers, byte for byte.
func v1Receipt(t *testing.T, base, personID string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/v1/receipts/"+personID, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+opsKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return raw
}

func TestReceiptsFetchDownloadAndVerifyWithAReadOnlyKey(t *testing.T) {
	env := keyed(t)
	id := deleted(t, env, opsKey, 3, 2)
	b := newBrowser(t, env.HTTP.URL, nil)
	require.Equal(t, http.StatusSeeOther, b.login(auditorKey).status)

	form := b.get("/ui/receipts")
	require.Equal(t, http.StatusOK, form.status)
	noName(t, "receipts", form.body)
	require.Contains(t, form.body, `action="/ui/receipts/verify"`)

	// Fetch: what the receipt states, and where to download it.
	p := b.get("/ui/receipts?person_id=p-0")
	require.Equal(t, http.StatusOK, p.status, p.body)
	noName(t, "a receipt", p.body)
	require.Contains(t, p.body, `<code data-deletion>`+id+`</code>`)
	require.Contains(t, p.body, "<td>purge_faces</td>")
	require.Contains(t, p.body, `href="/ui/receipts/download?person_id=p-0"`)
	require.Equal(t, http.StatusOK, b.get("/ui/receipts?person_id=p-0&deletion_id="+id).status)

	// Download: the file exactly as signed.
	dl := b.get("/ui/receipts/download?person_id=p-0")
	require.Equal(t, http.StatusOK, dl.status, dl.body)
	require.Equal(t, "application/json", dl.header.Get("Content-Type"))
	require.Equal(t, `attachment; filename=receipt-p-0.json`, dl.header.Get("Content-Disposition"))
	require.Equal(t, "no-store", dl.header.Get("Cache-Control"))
	file := []byte(dl.body)
	require.Equal(t, v1Receipt(t, env.HTTP.URL, "p-0"), file, "byte for byte what /v1 signs")
	require.NotContains(t, dl.body, personName)

	// Verify: a read-only key may, with its form's token.
	token := b.csrf("/ui/receipts")
	p = uploadReceipt(b, token, file)
	require.Equal(t, http.StatusOK, p.status, p.body)
	noName(t, "a valid receipt", p.body)
	require.Contains(t, p.body, `data-verdict="valid"`)
	require.Contains(t, p.body, `<code data-person>p-0</code>`)

	// A byte flipped in the signed content: still a well-formed receipt, refused.
	tampered := bytes.Replace(file, []byte(`"person_id":"p-0"`), []byte(`"person_id":"p-9"`), 1)
	require.NotEqual(t, file, tampered)
	p = uploadReceipt(b, token, tampered)
	require.Equal(t, http.StatusOK, p.status, "the verifier answered: no")
	require.Contains(t, p.body, `data-verdict="invalid"`)
	require.Contains(t, p.body, "signature does not match")
	require.NotContains(t, p.body, "<code data-person>", "nothing a refused receipt states is shown as proven")

	// The same receipt re-signed with another key: sound, but not this service's.
	var env1 struct {
		Receipt json.RawMessage `json:"receipt"`
	}
	require.NoError(t, json.Unmarshal(file, &env1))
	var rc receipts.Receipt
	require.NoError(t, json.Unmarshal(env1.Receipt, &rc))
	_, other, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	p = uploadReceipt(b, token, receipts.NewSigner(other).Sign(rc))
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, `data-verdict="invalid"`)
	require.Contains(t, p.body, "not this service&#39;s receipt")

	for name, tc := range map[string]struct {
		token  string
		file   []byte
		status int
		says   string
	}{
		"not JSON":       {token, []byte("hello"), http.StatusBadRequest, "not a signed deletion receipt"},
		"JSON, no proof": {token, []byte(`{"person_id":"p-0"}`), http.StatusBadRequest, "no signed receipt in it"},
		"too large":      {token, bytes.Repeat([]byte("x"), 1<<20+1), http.StatusBadRequest, "larger than 1 MiB"},
		"far too large":  {token, bytes.Repeat([]byte("x"), 2<<20), http.StatusBadRequest, "larger than 1 MiB"}, // refused before the form is read
		"no file":        {token, nil, http.StatusBadRequest, "Choose a receipt file"},
		"no token":       {"", file, http.StatusForbidden, "not the console&#39;s own"},
	} {
		p := uploadReceipt(b, tc.token, tc.file)
		require.Equal(t, tc.status, p.status, name)
		require.Contains(t, p.body, tc.says, name)
	}
}

func TestReceiptsAnswerAPageForEveryMistake(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	id := deleted(t, env, "", 3, 2)
	b := newBrowser(t, env.HTTP.URL, nil)
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/ui/receipts?person_id=nobody", http.StatusNotFound, "has no completed deletion"},
		{"/ui/receipts?person_id=p-2", http.StatusNotFound, "has no completed deletion"}, // registered, never deleted
		{"/ui/receipts?person_id=p-0&deletion_id=0190c0de-0000-7000-8000-000000000000", http.StatusNotFound, "no completed deletion 0190c0de"},
		{"/ui/receipts?person_id=" + url.QueryEscape("bad id!"), http.StatusBadRequest, "is not valid"},
		{"/ui/receipts?deletion_id=" + id, http.StatusBadRequest, "Give the ID of the person"},
		{"/ui/receipts?person_id=p-0&deletion_id=" + url.QueryEscape("no/such"), http.StatusBadRequest, "deletion ID"},
		{"/ui/receipts/download?person_id=nobody", http.StatusNotFound, "has no completed deletion"},
		{"/ui/receipts/download?person_id=", http.StatusBadRequest, "Give the ID of the person"},
	} {
		p := b.get(tc.path)
		require.Equal(t, tc.status, p.status, tc.path)
		require.Contains(t, p.body, tc.says, tc.path)
		require.Contains(t, p.header.Get("Content-Type"), "text/html", "a page, not a file: %s", tc.path)
		noName(t, tc.path, p.body)
	}
	dl := b.get("/ui/receipts/download?person_id=p-1&deletion_id=" + id)
	require.Equal(t, http.StatusOK, dl.status)
	require.Equal(t, "attachment; filename=receipt-p-1-"+id+".json", dl.header.Get("Content-Disposition"))
}
