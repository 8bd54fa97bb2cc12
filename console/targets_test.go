package console_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/sagas"
	"github.com/erasure-dev/erasure/service"
)

// edgeTarget is an external HTTP target (kind http, DELETE /persons/{person_id}) that refuses
// the persons whose ID starts with "locked-", with a message naming them.
func edgeTarget(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/persons/")
		if strings.HasPrefix(id, "locked-") {
			http.Error(w, "person "+id+" is locked", http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// withEdgeTarget has cfg delete from edge as the external target "edge", whose configured URL
// carries a token the console must never show.
func withEdgeTarget(t *testing.T, cfg *config.Config, edge *httptest.Server) {
	cfg.TargetsFile = filepath.Join(t.TempDir(), "targets.yaml")
	require.NoError(t, os.WriteFile(cfg.TargetsFile, []byte(fmt.Sprintf(`
targets:
  - name: edge
    kind: http
    url: %s/persons/{person_id}?token=edge-s3cret-token
`, edge.URL)), 0o600))
}

// oneAttempt has a refused target fail an item at once, without the production retries.
var oneAttempt = service.WithTargetRetry(sagas.Retry{Attempts: 1, Initial: time.Millisecond, Max: time.Millisecond})

var figure = regexp.MustCompile(`data-figure="(pending|confirmed|failed)">(?:<strong class="bad">)?(\d+)<`)

// figures reads the counts of the one target row of a Targets page or fragment.
func figures(body string) map[string]string {
	out := map[string]string{}
	for _, m := range figure.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestTargetsPageWithoutExternalTargetsSaysHowToAddThem(t *testing.T) {
	env := keyed(t)
	b := newBrowser(t, env.HTTP.URL, nil)
	require.Equal(t, http.StatusSeeOther, b.login(auditorKey).status, "a read-only key sees the page")
	p := b.get("/ui/targets")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `id="no-targets"`)
	require.Contains(t, p.body, "built-in stores only")
	require.Contains(t, p.body, "<code>--targets FILE</code>")
	require.Contains(t, p.body, "ERASURE_TARGETS")
	require.NotContains(t, p.body, "hx-get", "nothing to refresh")
}

// The Targets page shows each target's figures as the deletions reach it, with the host of its
// URL only, and refreshes them from a fragment while the page stays whole without JavaScript.
func TestTargetsPageShowsLiveFiguresAndNoSecret(t *testing.T) {
	edge := edgeTarget(t)
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey + ",auditor:" + auditorKey + ":read"
	withEdgeTarget(t, &cfg, edge)
	env := testenv.Start(t, cfg, oneAttempt)
	seed(t, env.HTTP.URL, opsKey, 2)
	status, out := api(t, env.HTTP.URL, opsKey, "POST", "/v1/persons", fmt.Sprintf(`{"person_id":"locked-1","name":%q}`, personName))
	require.Equal(t, http.StatusCreated, status, out)

	b := newBrowser(t, env.HTTP.URL, nil)
	require.Equal(t, http.StatusSeeOther, b.login(auditorKey).status)
	p := b.get("/ui/targets")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Equal(t, map[string]string{"pending": "0", "confirmed": "0", "failed": "0"}, figures(p.body))
	require.Contains(t, p.body, `hx-get="/ui/targets/figures" hx-trigger="every 2s" hx-swap="outerHTML"`)

	requestDeletion(t, env.HTTP.URL, opsKey, "p-0", "p-1", "locked-1")
	var fragment page
	require.Eventually(t, func() bool {
		fragment = b.get("/ui/targets/figures")
		return fragment.status == http.StatusOK && figures(fragment.body)["failed"] == "1" && figures(fragment.body)["confirmed"] == "2"
	}, 20*time.Second, 50*time.Millisecond, "the fragment follows the deletion")
	require.True(t, strings.HasPrefix(fragment.body, `<div id="target-figures"`), "a fragment, not a page: %s", fragment.body)
	require.NotContains(t, fragment.body, "<html")

	p = b.get("/ui/targets")
	require.Equal(t, map[string]string{"pending": "0", "confirmed": "2", "failed": "1"}, figures(p.body))
	host := strings.TrimPrefix(edge.URL, "http://")
	require.Contains(t, p.body, "<code>"+host+"</code>")
	require.Contains(t, p.body, "<code>STEP_FAILED</code>")
	require.Contains(t, p.body, "person {person_id} is locked", "the error describes the target, not one person")
	require.Regexp(t, `<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ</td>`, p.body, "when, in UTC")
	for _, body := range []string{p.body, fragment.body} {
		require.NotContains(t, body, "s3cret", "the URL's token")
		require.NotContains(t, body, "/persons/", "the URL's path")
		require.NotContains(t, body, "locked-1", "a person's ID")
		require.NotContains(t, body, personName)
	}
}

// receiver is a webhook receiver that fails every delivery while broken, and keeps the bodies
// it accepted by webhook-id.
type receiver struct {
	mu       sync.Mutex
	broken   bool
	accepted map[string]string
	srv      *httptest.Server
}

func newReceiver(t *testing.T, broken bool) *receiver {
	rc := &receiver{broken: broken, accepted: map[string]string{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.broken {
			http.Error(w, "receiver down", http.StatusServiceUnavailable)
			return
		}
		rc.accepted[r.Header.Get("webhook-id")] = string(body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) repair() {
	rc.mu.Lock()
	rc.broken = false
	rc.mu.Unlock()
}

func (rc *receiver) body(webhookID string) string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.accepted[webhookID]
}

// webhookEnv starts erasure keyed with opsKey and auditorKey whose webhooks may reach loopback
// receivers, and dead-letter a delivery after one retry 10 ms later.
func webhookEnv(t *testing.T) *testenv.Env {
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey + ",auditor:" + auditorKey + ":read"
	cfg.WebhookAllowPrivate = true
	cfg.WebhookRetrySchedule = []time.Duration{10 * time.Millisecond}
	cfg.WebhookTimeout = 5 * time.Second
	return testenv.Start(t, cfg)
}

var (
	secretShown = regexp.MustCompile(`<code id="w-secret">([^<]+)</code>`)
	webhookHead = regexp.MustCompile(`<h1>Webhook <code>(wh_[0-9a-f]+)</code></h1>`)
)

// subscribeFromPage subscribes url from the Webhooks page's form and returns the answer, the
// subscription's ID and the secret it showed.
func subscribeFromPage(t *testing.T, b *browser, token, target string, eventTypes ...string) (page, string, string) {
	t.Helper()
	p := b.post("/ui/webhooks", url.Values{"csrf": {token}, "once": {b.once("/ui/webhooks")}, "url": {target}, "event_type": eventTypes})
	require.Equal(t, http.StatusCreated, p.status, p.body)
	id, secret := webhookHead.FindStringSubmatch(p.body), secretShown.FindStringSubmatch(p.body)
	require.NotNil(t, id, p.body)
	require.NotNil(t, secret, "the secret is shown after the subscription")
	return p, id[1], secret[1]
}

func TestWebhookSubscriptionsFromThePages(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey
	cfg.WebhookAllowPrivate = false
	env := testenv.Start(t, cfg)
	b := newBrowser(t, env.HTTP.URL, nil)
	require.Equal(t, http.StatusSeeOther, b.login(opsKey).status)
	list := b.get("/ui/webhooks")
	require.Equal(t, http.StatusOK, list.status)
	require.Contains(t, list.body, "No subscription yet")
	require.Contains(t, list.body, `value="deletion.completed"`, "a box for each event type")
	token := b.csrf("/ui/webhooks")

	for _, tc := range []struct {
		name, url  string
		eventTypes []string
		want       string
	}{
		{"no URL", "  ", nil, "Give the URL of the receiver"},
		{"a private address", "http://127.0.0.1:9/hook", nil, "reaches a private address: 127.0.0.1 (set ERASURE_WEBHOOK_ALLOW_PRIVATE=true"},
		{"localhost", "http://localhost/hook", nil, "private address"},
		{"not http", "ftp://203.0.113.5/hook", nil, "must start with http:// or https://"},
		{"credentials", "https://me:pw@203.0.113.5/hook", nil, "credentials in the URL"},
		{"an unknown event type", "https://203.0.113.5/hook", []string{"person.created"}, `unknown webhook event type: &#34;person.created&#34;`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post("/ui/webhooks", url.Values{"csrf": {token}, "once": {b.once("/ui/webhooks")}, "url": {tc.url}, "event_type": tc.eventTypes})
			require.Equal(t, http.StatusBadRequest, p.status, p.body)
			require.Contains(t, p.body, tc.want)
		})
	}
	require.Equal(t, http.StatusForbidden, b.post("/ui/webhooks", url.Values{"url": {"https://203.0.113.5/hook"}}).status, "no token")
	_, subs := api(t, env.HTTP.URL, opsKey, "GET", "/v1/webhooks", "")
	require.Empty(t, subs["webhooks"], "no refused form subscribed anything")

	// A public address (TEST-NET-3: no name to resolve, and nothing is sent to it here).
	created, id, secret := subscribeFromPage(t, b, token, "https://203.0.113.5/hook", "deletion.completed", "group.deleted")
	require.Contains(t, created.body, "Store its signing secret now")
	require.True(t, strings.HasPrefix(secret, "whsec_"), secret)
	status, got := api(t, env.HTTP.URL, opsKey, "GET", "/v1/webhooks/"+id, "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, []any{"deletion.completed", "group.deleted"}, got["event_types"])
	for _, path := range []string{"/ui/webhooks", "/ui/webhooks/" + id, "/ui/webhooks/" + id + "/delete"} {
		p := b.get(path)
		require.Equal(t, http.StatusOK, p.status, path)
		require.Contains(t, p.body, id, path)
		require.NotContains(t, p.body, secret, "%s: the secret is shown once", path)
		require.NotContains(t, p.body, "whsec_", path)
	}

	// Rotation shows the new secret once; the old one signs on for a while.
	rotate := url.Values{"csrf": {token}, "once": {b.once("/ui/webhooks/" + id)}}
	rotated := b.post("/ui/webhooks/"+id+"/rotate", rotate)
	require.Equal(t, http.StatusOK, rotated.status, rotated.body)
	next := secretShown.FindStringSubmatch(rotated.body)
	require.NotNil(t, next)
	require.NotEqual(t, secret, next[1])
	require.Contains(t, rotated.body, "Old secret signs until")
	require.NotContains(t, b.get("/ui/webhooks/"+id).body, next[1])

	// The same form sent again (a double click, a reload of its answer) does nothing: a second
	// rotation would drop the secret the receiver still checks, a second subscription would
	// deliver every event twice.
	_, first := api(t, env.HTTP.URL, opsKey, "GET", "/v1/webhooks/"+id, "")
	require.NotNil(t, first["previous_secret_expires_at"])
	again := b.post("/ui/webhooks/"+id+"/rotate", rotate)
	require.Equal(t, http.StatusConflict, again.status, again.body)
	require.Contains(t, again.body, "This form was sent already")
	require.NotContains(t, again.body, "whsec_")
	_, after := api(t, env.HTTP.URL, opsKey, "GET", "/v1/webhooks/"+id, "")
	require.Equal(t, first["previous_secret_expires_at"], after["previous_secret_expires_at"], "rotated once")
	subscribe := url.Values{"csrf": {token}, "once": {b.once("/ui/webhooks")}, "url": {"https://203.0.113.6/hook"}}
	require.Equal(t, http.StatusCreated, b.post("/ui/webhooks", subscribe).status)
	require.Equal(t, http.StatusConflict, b.post("/ui/webhooks", subscribe).status)
	require.Equal(t, http.StatusConflict, b.post("/ui/webhooks", url.Values{"csrf": {token}, "url": {"https://203.0.113.7/hook"}}).status, "no one-time token")
	_, subs = api(t, env.HTTP.URL, opsKey, "GET", "/v1/webhooks", "")
	require.Len(t, subs["webhooks"], 2, "each form subscribed once")

	// Deleting asks first, then says it is done.
	confirm := b.get("/ui/webhooks/" + id + "/delete")
	require.Contains(t, confirm.body, `action="/ui/webhooks/`+id+`/delete"`)
	require.Contains(t, confirm.body, "https://203.0.113.5/hook")
	p := b.post("/ui/webhooks/"+id+"/delete", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "/ui/webhooks?deleted="+id, p.header.Get("Location"))
	require.Contains(t, b.get(p.header.Get("Location")).body, "Subscription "+id+" is deleted")
	status, _ = api(t, env.HTTP.URL, opsKey, "GET", "/v1/webhooks/"+id, "")
	require.Equal(t, http.StatusNotFound, status)
	require.NotContains(t, b.get("/ui/webhooks?deleted=<b>forged</b>").body, "forged", "a notice names only a subscription ID")
}

// Bad IDs and bad filters answer a page saying so, never a 500.
func TestWebhookPagesRefuseBadInput(t *testing.T) {
	env := webhookEnv(t)
	b := newBrowser(t, env.HTTP.URL, nil)
	require.Equal(t, http.StatusSeeOther, b.login(opsKey).status)
	token := b.csrf("/ui/webhooks")
	_, id, _ := subscribeFromPage(t, b, token, "http://127.0.0.1:9/hook")

	for _, tc := range []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/ui/webhooks/wh_nope", http.StatusNotFound, "There is no webhook subscription wh_nope."},
		{"GET", "/ui/webhooks/wh_nope/delete", http.StatusNotFound, "There is no webhook subscription wh_nope."},
		{"POST", "/ui/webhooks/wh_nope/delete", http.StatusNotFound, "There is no webhook subscription wh_nope."},
		{"POST", "/ui/webhooks/wh_nope/rotate", http.StatusNotFound, "There is no webhook subscription wh_nope."},
		{"POST", "/ui/webhooks/wh_nope/deliveries/1/redeliver", http.StatusNotFound, "There is no delivery 1 of webhook wh_nope."},
		{"POST", "/ui/webhooks/" + id + "/deliveries/999/redeliver", http.StatusNotFound, "There is no delivery 999 of webhook " + id + "."},
		{"POST", "/ui/webhooks/" + id + "/deliveries/abc/redeliver", http.StatusNotFound, "There is no delivery abc of webhook " + id + "."},
		{"POST", "/ui/webhooks/" + id + "/deliveries/-1/redeliver", http.StatusNotFound, "There is no delivery -1"},
		{"GET", "/ui/webhooks/" + id + "?state=lost", http.StatusBadRequest, "must be pending, delivered or dead"},
		{"GET", "/ui/webhooks/" + id + "?after=abc", http.StatusBadRequest, "start from the first page"},
		{"GET", "/ui/webhooks/" + id + "?after=-5", http.StatusBadRequest, "start from the first page"},
	} {
		var p page
		if tc.method == "GET" {
			p = b.get(tc.path)
		} else {
			p = b.post(tc.path, url.Values{"csrf": {token}, "once": {b.once("/ui/webhooks")}})
		}
		require.Equal(t, tc.status, p.status, "%s %s: %s", tc.method, tc.path, p.body)
		require.Contains(t, p.body, tc.want, "%s %s", tc.method, tc.path)
		require.Contains(t, p.header.Get("Content-Type"), "text/html", "a page")
	}
	for _, state := range []string{"", "pending", "delivered", "dead"} {
		p := b.get("/ui/webhooks/" + id + "?state=" + state + "&after=0")
		require.Equal(t, http.StatusOK, p.status, state)
		require.Contains(t, p.body, "No delivery", state)
	}
}

func TestWebhookPagesReadOnlyKeySeesAndChangesNothing(t *testing.T) {
	env := webhookEnv(t)
	status, created := api(t, env.HTTP.URL, opsKey, "POST", "/v1/webhooks", `{"url":"http://127.0.0.1:9/hook"}`)
	require.Equal(t, http.StatusCreated, status, created)
	id := created["id"].(string)

	b := newBrowser(t, env.HTTP.URL, nil)
	require.Equal(t, http.StatusSeeOther, b.login(auditorKey).status)
	list := b.get("/ui/webhooks")
	require.Equal(t, http.StatusOK, list.status)
	require.Contains(t, list.body, `href="/ui/webhooks/`+id+`"`, "it reads the list")
	require.Contains(t, list.body, "This key is read-only: it cannot subscribe.")
	require.NotContains(t, list.body, `action="/ui/webhooks"`, "no subscribe form")
	require.NotContains(t, list.body, "/delete", "no delete control")
	detail := b.get("/ui/webhooks/" + id)
	require.Equal(t, http.StatusOK, detail.status)
	require.NotContains(t, detail.body, "/rotate")
	require.NotContains(t, detail.body, "/delete")
	token := b.csrf("/ui/webhooks") // the log-out form's

	require.Equal(t, http.StatusForbidden, b.get("/ui/webhooks/"+id+"/delete").status)
	for _, path := range []string{"/ui/webhooks", "/ui/webhooks/" + id + "/delete", "/ui/webhooks/" + id + "/rotate",
		"/ui/webhooks/" + id + "/deliveries/1/redeliver"} {
		p := b.post(path, url.Values{"csrf": {token}, "url": {"http://127.0.0.1:9/other"}})
		require.Equal(t, http.StatusForbidden, p.status, path)
		require.Contains(t, p.body, "This key is read-only", path)
	}
	_, subs := api(t, env.HTTP.URL, opsKey, "GET", "/v1/webhooks", "")
	require.Len(t, subs["webhooks"], 1, "nothing subscribed, nothing deleted")
}

var deadRow = regexp.MustCompile(`data-delivery="(\d+)" data-state="dead"`)

// A delivery that spent its retries on a broken receiver shows as a dead letter; once the
// receiver is repaired, Redeliver on the page gets it there, with its webhook-id unchanged.
func TestWebhookDeadLetterRedeliveredFromThePageReachesTheRepairedReceiver(t *testing.T) {
	rc := newReceiver(t, true)
	env := webhookEnv(t)
	seed(t, env.HTTP.URL, opsKey, 1)
	b := newBrowser(t, env.HTTP.URL, nil)
	require.Equal(t, http.StatusSeeOther, b.login(opsKey).status)
	token := b.csrf("/ui/webhooks")
	_, id, _ := subscribeFromPage(t, b, token, rc.srv.URL+"/hook", "deletion.completed")
	deletionID := requestDeletion(t, env.HTTP.URL, opsKey, "p-0")

	var dead page
	require.Eventually(t, func() bool {
		dead = b.get("/ui/webhooks/" + id + "?state=dead")
		return deadRow.MatchString(dead.body)
	}, 20*time.Second, 50*time.Millisecond, "the delivery is dead-lettered")
	delivery := deadRow.FindStringSubmatch(dead.body)[1]
	require.Contains(t, dead.body, "dead letter")
	require.Contains(t, dead.body, "HTTP 503")
	require.Contains(t, dead.body, `action="/ui/webhooks/`+id+`/deliveries/`+delivery+`/redeliver"`)
	require.NotContains(t, dead.body, personName)
	status, listed := api(t, env.HTTP.URL, opsKey, "GET", "/v1/webhooks/"+id+"/deliveries?state=dead", "")
	require.Equal(t, http.StatusOK, status)
	webhookID := listed["deliveries"].([]any)[0].(map[string]any)["webhook_id"].(string)
	require.Contains(t, dead.body, webhookID, "the page shows the receiver's dedup key")

	rc.repair()
	p := b.post("/ui/webhooks/"+id+"/deliveries/"+delivery+"/redeliver", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "/ui/webhooks/"+id+"?redelivered="+delivery+"#d-"+delivery, p.header.Get("Location"))
	notice := b.get(strings.TrimSuffix(p.header.Get("Location"), "#d-"+delivery))
	require.Contains(t, notice.body, "Delivery "+delivery+" is queued again")

	require.Eventually(t, func() bool {
		return strings.Contains(b.get("/ui/webhooks/"+id+"?state=delivered").body, `data-delivery="`+delivery+`" data-state="delivered"`)
	}, 20*time.Second, 50*time.Millisecond, "the redelivery reaches the repaired receiver")
	require.Contains(t, rc.body(webhookID), deletionID, "the receiver has the deletion.completed message, under the same webhook-id")
	require.NotContains(t, b.get("/ui/webhooks/"+id+"?state=dead").body, `data-state="dead"`)
}
