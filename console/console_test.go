package console_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/internal/testenv/leakcheck"
	"github.com/erasure-dev/erasure/service"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

const (
	opsKey     = "ops-0123456789abcdef"
	auditorKey = "auditor-0123456789abcdef"
	// personName is what no console page may ever show: persons are registered under it.
	personName = "Zorblax Quintavius"
)

// browser is a cookie-keeping client of the console that does not follow redirects, so that a
// test sees each answer.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string, tr http.RoundTripper) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	if tr == nil {
		tr = http.DefaultTransport
	}
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	require.NoError(b.t, err)
	return b.do(req)
}

// post sends a form as the browser does from the console's own page (same origin).
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

func (b *browser) postMultipart(path string, fields map[string]string, file string) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		require.NoError(b.t, mw.WriteField(k, v))
	}
	if file != "" {
		fw, err := mw.CreateFormFile("file", "ids.txt")
		require.NoError(b.t, err)
		_, err = io.WriteString(fw, file)
		require.NoError(b.t, err)
	}
	require.NoError(b.t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, b.base+path, &body)
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.base)
	return b.do(req)
}

// formField returns the value of the hidden field name of a form on path.
func (b *browser) formField(path, name string) string {
	b.t.Helper()
	p := b.get(path)
	require.Equal(b.t, http.StatusOK, p.status, p.body)
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]+)"`).FindStringSubmatch(p.body)
	require.NotNil(b.t, m, "no %s field on %s", name, path)
	return m[1]
}

// once returns a fresh one-time token of a form on path (subscribe, rotate).
func (b *browser) once(path string) string { b.t.Helper(); return b.formField(path, "once") }

// csrf returns the token the console's forms carry for this browser's session.
func (b *browser) csrf(path string) string { b.t.Helper(); return b.formField(path, "csrf") }

func (b *browser) login(key string) page {
	b.t.Helper()
	return b.post("/ui/login", url.Values{"key": {key}, "next": {"/ui/"}})
}

// api calls /v1 with key ("" for none) and decodes its JSON answer.
func api(t *testing.T, base, key, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return resp.StatusCode, out
}

// seed registers persons p-0..p-(n-1), all named personName.
func seed(t *testing.T, base, key string, n int) {
	t.Helper()
	for i := range n {
		status, out := api(t, base, key, "POST", "/v1/persons", fmt.Sprintf(`{"person_id":"p-%d","name":%q}`, i, personName))
		require.Equal(t, http.StatusCreated, status, out)
	}
}

func requestDeletion(t *testing.T, base, key string, ids ...string) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{"person_ids": ids})
	require.NoError(t, err)
	status, out := api(t, base, key, "POST", "/v1/deletions", string(body))
	require.Equal(t, http.StatusAccepted, status, out)
	return out["deletion_id"].(string)
}

func keyed(t *testing.T, opts ...service.Option) *testenv.Env {
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey + ",auditor:" + auditorKey + ":read"
	return testenv.Start(t, cfg, opts...)
}

func TestEveryAnswerSendsTheSecurityHeaders(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	b := newBrowser(t, env.HTTP.URL, nil)
	id := requestDeletion(t, env.HTTP.URL, "", "nobody")
	for _, path := range []string{"/ui/", "/ui/deletions/" + id, "/ui/deletions/" + id + "/progress", "/ui/deletions/" + id + "/cancel",
		"/ui/deletions/new", "/ui/deletions/none", "/ui/no-such-page", "/ui/static/htmx.min.js", "/ui/static/console.css",
		"/ui/targets", "/ui/targets/figures", "/ui/audit", "/ui/audit/verify", "/ui/receipts", "/ui/webhooks", "/ui/webhooks/none"} {
		p := b.get(path)
		csp := p.header.Get("Content-Security-Policy")
		require.Contains(t, csp, "script-src 'self'", path)
		require.Contains(t, csp, "frame-ancestors 'none'", path)
		require.NotContains(t, csp, "unsafe-inline", path)
		require.NotContains(t, csp, "unsafe-eval", path)
		require.Equal(t, "nosniff", p.header.Get("X-Content-Type-Options"), path)
		require.Equal(t, "same-origin", p.header.Get("Referrer-Policy"), path)
	}
	// No inline script or style anywhere: the policy would block it, and the page would break.
	for _, path := range []string{"/ui/", "/ui/deletions/" + id, "/ui/deletions/new", "/ui/targets", "/ui/audit", "/ui/receipts", "/ui/webhooks"} {
		body := b.get(path).body
		require.NotRegexp(t, `<script(?:\s[^>]*)?>\s*[^<\s]`, body, path)
		require.NotContains(t, body, " style=", path)
		require.NotContains(t, body, "<style", path)
	}
}

func TestLoginSetsAStrictSessionCookieAndLogoutEndsIt(t *testing.T) {
	env := keyed(t)
	b := newBrowser(t, env.HTTP.URL, nil)

	p := b.get("/ui/deletions/new")
	require.Equal(t, http.StatusSeeOther, p.status, "no session: to the login form")
	require.Equal(t, "/ui/login?next="+url.QueryEscape("/ui/deletions/new"), p.header.Get("Location"))
	req, err := http.NewRequest(http.MethodGet, env.HTTP.URL+"/ui/deletions/x/progress?compact=1", nil)
	require.NoError(t, err)
	req.Header.Set("HX-Request", "true") // htmx polling a fragment: the whole page goes to the login form
	req.Header.Set("HX-Current-URL", env.HTTP.URL+"/ui/deletions/x")
	p = b.do(req)
	require.Equal(t, http.StatusUnauthorized, p.status)
	require.Equal(t, "/ui/login?next="+url.QueryEscape("/ui/deletions/x"), p.header.Get("HX-Redirect"))

	p = b.login("not-a-key-0123456789")
	require.Equal(t, http.StatusUnauthorized, p.status)
	require.Empty(t, p.header.Values("Set-Cookie"))

	p = b.login(opsKey)
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	cookie := p.header.Get("Set-Cookie")
	require.Contains(t, cookie, "HttpOnly")
	require.Contains(t, cookie, "SameSite=Strict")
	require.Contains(t, cookie, "Path=/ui/")
	require.Contains(t, cookie, "Max-Age=28800", "8 hours, the default")
	require.NotContains(t, cookie, "Secure", "plain HTTP: a Secure cookie would never come back")
	home := b.get("/ui/")
	require.Equal(t, http.StatusOK, home.status)
	require.Contains(t, home.body, "Signed in as <strong>ops</strong>")

	p = b.post("/ui/logout", url.Values{"csrf": {b.csrf("/ui/")}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Contains(t, p.header.Get("Set-Cookie"), "Max-Age=0")
	// The session is gone on the server, not only in this browser: its old cookie opens nothing.
	old := newBrowser(t, env.HTTP.URL, nil)
	u, _ := url.Parse(env.HTTP.URL + "/ui/")
	old.c.Jar.SetCookies(u, []*http.Cookie{{Name: "erasure_console", Value: sessionCookie(t, cookie)}})
	require.Equal(t, http.StatusSeeOther, old.get("/ui/").status)

	// Under TLS the cookie is Secure.
	srv := httptest.NewTLSServer(env.Svc.Handler())
	defer srv.Close()
	tb := newBrowser(t, srv.URL, &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}) // the test server's own certificate
	defer tb.c.CloseIdleConnections()
	p = tb.login(opsKey)
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Contains(t, p.header.Get("Set-Cookie"), "Secure")
}

func sessionCookie(t *testing.T, setCookie string) string {
	c, err := http.ParseSetCookie(setCookie)
	require.NoError(t, err)
	return c.Value
}

func TestSessionsExpire(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey
	cfg.ConsoleSession = time.Minute
	env := testenv.Start(t, cfg)
	b := newBrowser(t, env.HTTP.URL, nil)
	p := b.login(opsKey)
	require.Contains(t, p.header.Get("Set-Cookie"), "Max-Age=60", "ERASURE_CONSOLE_SESSION sets the cookie's life")
	// The server ends the session too, not trusting the browser's expiry: TestSessionExpiresOnTheServer.
}

func TestFormsWithoutTheSessionTokenChangeNothing(t *testing.T) {
	// No dispatcher: the deletion stays running, so a cancel would change it.
	env := testenv.Start(t, testenv.Config(t, "sqlite"), service.Without("deletion-dispatcher"))
	seed(t, env.HTTP.URL, "", 3)
	id := requestDeletion(t, env.HTTP.URL, "", "p-0", "p-1", "p-2")
	b := newBrowser(t, env.HTTP.URL, nil)
	token := b.csrf("/ui/deletions/new")
	other := newBrowser(t, env.HTTP.URL, nil).csrf("/ui/deletions/new") // another browser's session

	for name, form := range map[string]url.Values{
		"no token":              {},
		"a wrong token":         {"csrf": {token + "x"}},
		"another session's one": {"csrf": {other}},
	} {
		p := b.post("/ui/deletions/"+id+"/cancel", form)
		require.Equal(t, http.StatusForbidden, p.status, name)
		require.Equal(t, http.StatusForbidden, b.post("/ui/deletions/"+id+"/retry", form).status, name)
		require.Equal(t, http.StatusForbidden, b.post("/ui/deletions", form).status, name)
	}
	_, d := api(t, env.HTTP.URL, "", "GET", "/v1/deletions/"+id, "")
	require.Equal(t, "running", d["state"], "no refused form cancelled it")

	p := b.post("/ui/deletions/"+id+"/cancel", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	_, d = api(t, env.HTTP.URL, "", "GET", "/v1/deletions/"+id, "")
	require.Equal(t, "cancelled", d["state"])

	// A form posted from another site is refused by the shared guard before the console.
	req, err := http.NewRequest(http.MethodPost, env.HTTP.URL+"/ui/deletions/"+id+"/retry", strings.NewReader("csrf="+token))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, b.do(req).status)
}

func TestCancelConfirmationSaysHowManyItemsStop(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"), service.Without("deletion-dispatcher"))
	seed(t, env.HTTP.URL, "", 4)
	id := requestDeletion(t, env.HTTP.URL, "", "p-0", "p-1", "p-2", "p-3")
	b := newBrowser(t, env.HTTP.URL, nil)
	p := b.get("/ui/deletions/" + id + "/cancel")
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, `data-stops="4"`)
	require.Contains(t, p.body, `action="/ui/deletions/`+id+`/cancel"`)
	require.Contains(t, b.get("/ui/deletions/"+id).body, `href="/ui/deletions/`+id+`/cancel"`)
}

func TestReadOnlyKeySeesEverythingAndChangesNothing(t *testing.T) {
	env := keyed(t, service.Without("deletion-dispatcher"))
	seed(t, env.HTTP.URL, opsKey, 2)
	id := requestDeletion(t, env.HTTP.URL, opsKey, "p-0", "p-1")
	b := newBrowser(t, env.HTTP.URL, nil)
	require.Equal(t, http.StatusSeeOther, b.login(auditorKey).status)

	home := b.get("/ui/")
	require.Equal(t, http.StatusOK, home.status)
	require.Contains(t, home.body, id, "it reads the list")
	require.Contains(t, home.body, "(read-only)")
	require.NotContains(t, home.body, `href="/ui/deletions/new"`)
	detail := b.get("/ui/deletions/" + id)
	require.Equal(t, http.StatusOK, detail.status)
	require.NotContains(t, detail.body, "/cancel\"", "no cancel control")
	token := b.csrf("/ui/") // the log-out form's

	require.Equal(t, http.StatusForbidden, b.get("/ui/deletions/new").status)
	require.Equal(t, http.StatusForbidden, b.post("/ui/deletions/"+id+"/cancel", url.Values{"csrf": {token}}).status)
	require.Equal(t, http.StatusForbidden, b.post("/ui/deletions/"+id+"/retry", url.Values{"csrf": {token}}).status)
	require.Equal(t, http.StatusForbidden, b.postMultipart("/ui/deletions/preview", map[string]string{"csrf": token, "ids": "p-0"}, "").status)
	_, d := api(t, env.HTTP.URL, opsKey, "GET", "/v1/deletions/"+id, "")
	require.Equal(t, "running", d["state"])
	// It may still end its own session.
	require.Equal(t, http.StatusSeeOther, b.post("/ui/logout", url.Values{"csrf": {token}}).status)
}

func TestNewDeletionPreviewsThenRecordsAsTheKey(t *testing.T) {
	env := keyed(t)
	seed(t, env.HTTP.URL, opsKey, 3)
	b := newBrowser(t, env.HTTP.URL, nil)
	require.Equal(t, http.StatusSeeOther, b.login(opsKey).status)
	token := b.csrf("/ui/deletions/new")

	p := b.postMultipart("/ui/deletions/preview", map[string]string{"csrf": token, "ids": "p-2\n\nnot an id!\np-0"},
		"p-0\r\np-1\n"+strings.Repeat("x", 70)+"\n")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `data-count="3"`, "p-0 twice counts once")
	require.Contains(t, p.body, "2 lines are not valid person IDs")
	require.Contains(t, p.body, "not an id!")
	m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(p.body)
	require.NotNil(t, m)

	p = b.post("/ui/deletions", url.Values{"csrf": {token}, "token": {m[1]}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	id := strings.TrimPrefix(p.header.Get("Location"), "/ui/deletions/")
	status, d := api(t, env.HTTP.URL, opsKey, "GET", "/v1/deletions?actor=ops", "")
	require.Equal(t, http.StatusOK, status)
	list := d["deletions"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, id, list[0].(map[string]any)["deletion_id"])
	require.EqualValues(t, 3, list[0].(map[string]any)["total"], "the invalid lines were left out")

	// A preview is confirmed once.
	require.Equal(t, http.StatusConflict, b.post("/ui/deletions", url.Values{"csrf": {token}, "token": {m[1]}}).status)
	// A list with no valid ID is refused on the form, recording nothing.
	p = b.postMultipart("/ui/deletions/preview", map[string]string{"csrf": token, "ids": "bad id!"}, "")
	require.Equal(t, http.StatusBadRequest, p.status)
	require.Contains(t, p.body, "no valid person ID")
}

func TestNoPageShowsAPersonsName(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	seed(t, env.HTTP.URL, "", 5)
	done := requestDeletion(t, env.HTTP.URL, "", "p-0", "p-1", "nobody", "bad id!")
	b := newBrowser(t, env.HTTP.URL, nil)
	require.Eventually(t, func() bool {
		return strings.Contains(b.get("/ui/deletions/"+done).body, "state-completed")
	}, 10*time.Second, 50*time.Millisecond)
	token := b.csrf("/ui/deletions/new")
	preview := b.postMultipart("/ui/deletions/preview", map[string]string{"csrf": token, "ids": "p-2\np-3"}, "")
	require.Equal(t, http.StatusOK, preview.status)

	pages := map[string]string{"preview": preview.body}
	for _, path := range []string{"/ui/", "/ui/?state=completed", "/ui/deletions/" + done, "/ui/deletions/" + done + "?state=failed",
		"/ui/deletions/" + done + "/progress", "/ui/deletions/" + done + "/cancel", "/ui/deletions/new", "/ui/deletions/nope"} {
		pages[path] = b.get(path).body
	}
	for name, body := range pages {
		require.NotContains(t, body, personName, name)
		require.NotContains(t, body, "Zorblax", name)
	}
	require.Contains(t, pages["/ui/deletions/"+done], "<code>p-0</code>", "the page does show the IDs")
}

func TestDeletionsListPagesNewestFirstWithAnOpaqueCursor(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		var ids []string
		for i := range 53 {
			ids = append(ids, requestDeletion(t, env.HTTP.URL, "", fmt.Sprintf("nobody-%d", i)))
		}
		b := newBrowser(t, env.HTTP.URL, nil)
		first := b.get("/ui/")
		require.Equal(t, http.StatusOK, first.status)
		rows := regexp.MustCompile(`<td><a href="/ui/deletions/([^"]+)">`).FindAllStringSubmatch(first.body, -1)
		require.Len(t, rows, 50)
		require.Equal(t, ids[52], rows[0][1], "newest first")
		next := regexp.MustCompile(`rel="next" href="/ui/\?after=([A-Za-z0-9_-]+)"`).FindStringSubmatch(first.body)
		require.NotNil(t, next, "an opaque, URL-safe cursor")
		second := b.get("/ui/?after=" + next[1])
		rows = regexp.MustCompile(`<td><a href="/ui/deletions/([^"]+)">`).FindAllStringSubmatch(second.body, -1)
		require.Len(t, rows, 3)
		require.Equal(t, ids[0], rows[2][1])
		require.NotContains(t, second.body, `rel="next"`)

		require.Equal(t, http.StatusBadRequest, b.get("/ui/?after=garbage").status)
		require.Equal(t, http.StatusBadRequest, b.get("/ui/?since=yesterday").status)
		require.Eventually(t, func() bool { // every deletion of unknown IDs completes
			return !strings.Contains(b.get("/ui/?state=running").body, "<td><a href")
		}, 10*time.Second, 50*time.Millisecond)
		require.Contains(t, b.get("/ui/?state=completed").body, ids[52])
		require.NotContains(t, b.get("/ui/?actor=someone-else").body, "<td><a href")
		tomorrow := time.Now().UTC().Add(24 * time.Hour).Format(time.DateOnly)
		require.NotContains(t, b.get("/ui/?since="+tomorrow).body, "<td><a href")
		require.Contains(t, b.get("/ui/?until="+tomorrow+"&actor=native-api").body, ids[52])
	})
}

func TestConsoleAnswersOnlyToItsOwnHostsWithoutKeys(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, env.HTTP.URL+"/ui/", nil)
	require.NoError(t, err)
	req.Host = "attacker.example"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "DNS rebinding: the guard's Host check covers /ui/")
}

// TestEveryControlIsLabelled: each form control a page shows has a label (label for=, or
// aria-label), and each button says what it does, so a screen reader names them and a keyboard
// user knows where the focus is.
func TestEveryControlIsLabelled(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"), service.Without("deletion-dispatcher"))
	seed(t, env.HTTP.URL, "", 2)
	id := requestDeletion(t, env.HTTP.URL, "", "p-0", "p-1")
	b := newBrowser(t, env.HTTP.URL, nil)
	token := b.csrf("/ui/deletions/new")
	pages := map[string]string{
		"preview": b.postMultipart("/ui/deletions/preview", map[string]string{"csrf": token, "ids": "p-0\nbad id!"}, "").body,
	}
	for _, path := range []string{"/ui/", "/ui/deletions/" + id, "/ui/deletions/" + id + "/cancel", "/ui/deletions/new",
		"/ui/audit", "/ui/receipts", "/ui/webhooks"} {
		pages[path] = b.get(path).body
	}
	login := keyed(t)
	pages["login"] = newBrowser(t, login.HTTP.URL, nil).get("/ui/login").body

	control := regexp.MustCompile(`<(input|select|textarea)\b([^>]*)>`)
	idAttr := regexp.MustCompile(`\bid="([^"]+)"`)
	button := regexp.MustCompile(`<button\b[^>]*>([^<]*)</button>`)
	for name, body := range pages {
		n := 0
		for _, m := range control.FindAllStringSubmatch(body, -1) {
			attrs := m[2]
			if strings.Contains(attrs, `type="hidden"`) || strings.Contains(attrs, "aria-label=") {
				continue
			}
			id := idAttr.FindStringSubmatch(attrs)
			require.NotNil(t, id, "%s: a %s without an id or aria-label: %s", name, m[1], m[0])
			require.Contains(t, body, `<label for="`+id[1]+`"`, "%s: no label for #%s", name, id[1])
			n++
		}
		for _, m := range button.FindAllStringSubmatch(body, -1) {
			require.NotEmpty(t, strings.TrimSpace(m[1]), "%s: a button without text: %s", name, m[0])
		}
		if name != "preview" && name != "/ui/deletions/"+id+"/cancel" { // those two hold buttons only
			require.Positive(t, n, "%s has controls to check", name)
		}
	}
}
