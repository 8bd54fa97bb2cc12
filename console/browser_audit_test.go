package console_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// TestBrowserAuditAndReceipts drives headless Chromium through the Audit and Receipts pages of
// an in-process erasure after a deletion has completed: search the trail by person, verify the
// chain, see a person as of a time, fetch a receipt, download it, and upload it to the verifier
// (valid), then a copy with one byte changed (not valid). Any error the browser reports fails
// it; each page's screenshot is kept.
func TestBrowserAuditAndReceipts(t *testing.T) {
	path := chromium(t)
	artifacts := screenshotDir(t)
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey
	env := testenv.Start(t, cfg)
	base := env.HTTP.URL

	seedPersons(t, base, []string{"audit-0", "audit-1", "audit-2", "audit-3"})
	deletionID := requestDeletion(t, base, opsKey, "audit-0", "audit-1", "audit-2")
	require.Eventually(t, func() bool {
		_, d := api(t, base, opsKey, "GET", "/v1/deletions/"+deletionID, "")
		return d["state"] == "completed"
	}, 30*time.Second, 50*time.Millisecond, "the deletion completes")

	b := openTab(t, path, artifacts)
	// No page shows the name the persons were registered under.
	noNameShown := func(page string) {
		t.Helper()
		html, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		require.NoError(t, err)
		require.NotContains(t, html, personName, page)
	}

	b.do("log in", chromedp.Navigate(base+"/ui/audit"), chromedp.WaitVisible(chromedp.ID("l-key")),
		chromedp.SendKeys(chromedp.ID("l-key"), opsKey+"\r"), chromedp.WaitVisible(chromedp.ID("a-person")))

	// Search the trail by person.
	// The page before the search lists the trail too: wait for the answer's URL, not its table.
	b.do("search", chromedp.SendKeys(chromedp.ID("a-person"), "audit-1"),
		chromedp.Click(chromedp.CSS(`form[action="/ui/audit"] button[type="submit"]`)))
	b.waitLocation("person_id=audit-1", 30*time.Second)
	b.do("search", chromedp.WaitVisible(chromedp.CSS("table.audit")))
	b.shot("audit-search")
	noNameShown("audit search")
	trail := b.text("table.audit")
	for _, want := range []string{"PersonCreated", "PersonDeletionRequested", "PersonDeleted", "audit-1", deletionID} {
		require.Contains(t, trail, want)
	}
	require.NotContains(t, trail, "audit-3", "only audit-1's entries")

	// Verify the chain in the page.
	b.do("verify the chain", chromedp.Click(chromedp.CSS(`form[action="/ui/audit/verify"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("[data-chain]")))
	b.shot("audit-verify")
	require.Equal(t, "ok", b.attr("[data-chain]", "data-chain"))
	require.Contains(t, b.text("[data-chain]"), "The chain holds")

	// The person as of now: deleted.
	b.do("as of", chromedp.SendKeys(chromedp.ID("o-person"), "audit-1"),
		// To the minute: Chromium normalizes "…:00" seconds away, and SetValue, reading the
		// value back, would fail one run in sixty.
		chromedp.SetValue(chromedp.ID("o-time"), time.Now().UTC().Add(2*time.Minute).Format("2006-01-02T15:04")),
		chromedp.Click(chromedp.CSS(`form[action="/ui/audit/as-of"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("dl.as-of")))
	b.shot("audit-as-of")
	noNameShown("as of")
	require.Equal(t, "deleted", b.attr("[data-state]", "data-state"))

	// Fetch the receipt.
	b.do("receipts", chromedp.Click(chromedp.CSS(`nav a[href="/ui/receipts"]`)), chromedp.WaitVisible(chromedp.ID("r-person")),
		chromedp.SendKeys(chromedp.ID("r-person"), "audit-1"),
		chromedp.Click(chromedp.CSS(`form[action="/ui/receipts"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("section.receipt")))
	b.shot("receipt")
	noNameShown("receipt")
	require.Equal(t, deletionID, b.text("section.receipt [data-deletion]"))

	// Download it: the link's URL fetched in the page, with the session's cookie.
	href := b.attr(`a[href^="/ui/receipts/download"]`, "href")
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch(`+jsString(href)+`).then(r => r.text().then(body => JSON.stringify({
		status: r.status, type: r.headers.get("Content-Type"), disposition: r.headers.get("Content-Disposition"), body})))`,
		chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	var dl struct {
		Status            int
		Type, Disposition string
		Body              string
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &dl))
	require.Equal(t, http.StatusOK, dl.Status)
	require.Equal(t, "application/json", dl.Type)
	require.Equal(t, "attachment; filename=receipt-audit-1.json", dl.Disposition)
	require.Equal(t, string(v1Receipt(t, base, "audit-1")), dl.Body, "the file exactly as signed")
	dir := t.TempDir()
	good := filepath.Join(dir, "receipt-audit-1.json")
	require.NoError(t, os.WriteFile(good, []byte(dl.Body), 0o600))

	// Upload it to the verifier: valid.
	b.do("verify the receipt", chromedp.SetUploadFiles(chromedp.ID("v-file"), []string{good}),
		chromedp.Click(chromedp.CSS(`form[action="/ui/receipts/verify"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("[data-verdict]")))
	b.shot("receipt-valid")
	noNameShown("valid receipt")
	require.Equal(t, "valid", b.attr("[data-verdict]", "data-verdict"))
	require.Contains(t, b.text("[data-verdict]"), "Valid")
	require.Equal(t, "audit-1", b.text("[data-verdict] [data-person]"))

	// One byte changed in what was signed: not valid.
	bad := filepath.Join(dir, "receipt-altered.json")
	altered := bytes.Replace([]byte(dl.Body), []byte(`"person_id":"audit-1"`), []byte(`"person_id":"audit-3"`), 1)
	require.NotEqual(t, dl.Body, string(altered))
	require.NoError(t, os.WriteFile(bad, altered, 0o600))
	// From a fresh page: on the verdict's page a wait for [data-verdict] could be met by the old
	// verdict while the new one loads, and the next step then acts on a page being replaced.
	b.do("verify an altered receipt", chromedp.Navigate(base+"/ui/receipts"), chromedp.WaitVisible(chromedp.ID("v-file")),
		chromedp.SetUploadFiles(chromedp.ID("v-file"), []string{bad}),
		chromedp.Click(chromedp.CSS(`form[action="/ui/receipts/verify"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("[data-verdict]")))
	b.shot("receipt-invalid")
	require.Equal(t, "invalid", b.attr("[data-verdict]", "data-verdict"))
	require.Contains(t, b.text("[data-verdict]"), "Not valid")

	require.Empty(t, b.errs.take())
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}
