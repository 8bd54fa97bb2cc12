package webhooks_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/internal/testenv/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// start runs erasure on dialect with private webhook targets allowed (the receivers are on
// loopback) and the given retry schedule.
func start(t *testing.T, dialect string, schedule ...time.Duration) *testenv.Env {
	t.Helper()
	return testenv.Start(t, webhookConfig(t, dialect, schedule...))
}

func webhookConfig(t *testing.T, dialect string, schedule ...time.Duration) config.Config {
	cfg := testenv.Config(t, dialect)
	cfg.WebhookAllowPrivate = true
	cfg.WebhookRetrySchedule = schedule
	cfg.WebhookTimeout = 5 * time.Second
	return cfg
}

type client struct {
	t    testing.TB
	base string
}

// do sends body, if any, as JSON.
func (c client) do(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	return testenv.Client{T: c.t, Base: c.base}.Do(method, path, contentType, body)
}

func (c client) post(path, body string) (int, map[string]any) {
	return c.do(http.MethodPost, path, body)
}
func (c client) get(path string) (int, map[string]any) { return c.do(http.MethodGet, path, "") }

// subscribe creates a subscription and returns its id and secret.
func (c client) subscribe(url string, types ...string) (string, string) {
	c.t.Helper()
	tj, _ := json.Marshal(types)
	status, body := c.post("/v1/webhooks", fmt.Sprintf(`{"url":%q,"event_types":%s}`, url, tj))
	require.Equal(c.t, http.StatusCreated, status, body)
	return body["id"].(string), body["secret"].(string)
}

// createPerson registers a person with a name, a photo and a permission group.
func (c client) createPerson(id string, groups ...string) {
	c.t.Helper()
	gj, _ := json.Marshal(append([]string{}, groups...))
	status, body := c.post("/v1/persons", fmt.Sprintf(`{"person_id":%q,"name":"Secret Name %s","group_ids":%s,"permission_group_ids":["door"],"photos":[{"image_base64":%q}]}`,
		id, id, gj, photo(c.t, len(id))))
	require.Equal(c.t, http.StatusCreated, status, body)
}

// deleteAll requests the deletion of ids and returns the deletion id.
func (c client) deleteAll(ids ...string) string {
	c.t.Helper()
	ij, _ := json.Marshal(ids)
	status, body := c.post("/v1/deletions", fmt.Sprintf(`{"person_ids":%s}`, ij))
	require.Equal(c.t, http.StatusAccepted, status, body)
	return body["deletion_id"].(string)
}

// deliveries lists a subscription's deliveries.
func (c client) deliveries(id, query string) []map[string]any {
	c.t.Helper()
	status, body := c.get("/v1/webhooks/" + id + "/deliveries?limit=1000&" + query)
	require.Equal(c.t, http.StatusOK, status, body)
	var out []map[string]any
	for _, d := range body["deliveries"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

func photo(t testing.TB, seed int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 64 {
		img.Set(i%8, i/8, color.RGBA{uint8(seed), uint8(seed >> 8), uint8(i), 255})
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// delivered is one request a receiver got.
type delivered struct {
	ID, Timestamp, Signature string
	Path                     string
	Raw                      []byte
	Body                     struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	At time.Time
}

// receiver is a webhook receiver on loopback. Its answer is set by the test; it can go down
// (its port refuses connections) and come back on the same port.
type receiver struct {
	t       testing.TB
	addr    string
	mu      sync.Mutex
	got     []delivered
	answer  func(n int) (status int, header http.Header) // n: requests so far, this one included
	srv     *http.Server
	release chan struct{} // closed at cleanup: handlers that hold a request give up
	hold    time.Duration
}

func newReceiver(t testing.TB) *receiver {
	t.Helper()
	r := &receiver{t: t, release: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(func() {
		close(r.release)
		r.mu.Lock()
		srv := r.srv
		r.mu.Unlock()
		if srv != nil {
			_ = srv.Close()
		}
	})
	return r
}

func (r *receiver) URL(path string) string { return "http://" + r.addr + path }

func (r *receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 5 * time.Second}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	d := delivered{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp"),
		Signature: req.Header.Get("webhook-signature"), Path: req.URL.Path, Raw: raw, At: time.Now()}
	_ = json.Unmarshal(raw, &d.Body)
	r.mu.Lock()
	hold, answer := r.hold, r.answer
	r.mu.Unlock()
	if hold > 0 {
		select {
		case <-time.After(hold):
		case <-r.release:
		}
	}
	r.mu.Lock()
	r.got = append(r.got, d)
	n := len(r.got)
	r.mu.Unlock()
	status := http.StatusNoContent
	if answer != nil {
		var h http.Header
		status, h = answer(n)
		for k, v := range h {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(status)
}

func (r *receiver) setAnswer(f func(n int) (int, http.Header)) {
	r.mu.Lock()
	r.answer = f
	r.mu.Unlock()
}

func (r *receiver) answerAlways(status int) {
	r.setAnswer(func(int) (int, http.Header) { return status, nil })
}

// down closes the receiver: its port refuses connections until up.
func (r *receiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	require.NoError(r.t, srv.Close())
}

// up listens on the same port again.
func (r *receiver) up() {
	var ln net.Listener
	require.Eventually(r.t, func() bool {
		var err error
		ln, err = net.Listen("tcp", r.addr)
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "listen on %s again", r.addr)
	r.serve(ln)
}

// all returns what the receiver got so far, every attempt included.
func (r *receiver) all() []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivered(nil), r.got...)
}

// byID returns one request per path and webhook-id (the last one), as a receiver that
// deduplicates keeps; the key is "path id" (a subscription and a callback on one receiver may
// get the same message).
func (r *receiver) byID() map[string]delivered {
	out := map[string]delivered{}
	for _, d := range r.all() {
		out[d.Path+" "+d.ID] = d
	}
	return out
}

// ofType returns the distinct messages of one event type, keyed by webhook-id.
func (r *receiver) ofType(eventType string) map[string]delivered {
	out := map[string]delivered{}
	for id, d := range r.byID() {
		if d.Body.Type == eventType {
			out[id] = d
		}
	}
	return out
}

// waitFor waits until cond holds for what the receiver got.
func (r *receiver) waitFor(d time.Duration, cond func() bool, msg string, args ...any) {
	r.t.Helper()
	require.Eventually(r.t, cond, d, 20*time.Millisecond, append([]any{msg}, args...)...)
}

// verifySignature checks a delivery's webhook-signature against secret the way a receiver
// would, written from the Standard Webhooks specification rather than with erasure's code:
// HMAC-SHA256 keyed by the base64-decoded secret after "whsec_", over "id.timestamp.body",
// base64-encoded, one of the space-separated "v1,<sig>" entries. The timestamp must be recent.
func verifySignature(secret string, d delivered) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	ts, err := strconv.ParseInt(d.Timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q: %w", d.Timestamp, err)
	}
	if skew := time.Since(time.Unix(ts, 0)); skew > 5*time.Minute || skew < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %d is %s off", ts, skew)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", d.ID, d.Timestamp, d.Raw)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, part := range strings.Fields(d.Signature) {
		version, sig, _ := strings.Cut(part, ",")
		if version == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("no v1 signature in %q matches", d.Signature)
}
