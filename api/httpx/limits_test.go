package httpx

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// refusal is what a surface's Refuser was asked to answer.
type refusal struct {
	err error
}

// guarded serves an OK handler behind Middleware and Guard with cfg, recording refusals.
func guarded(t *testing.T, cfg GuardConfig, surf *Surface) (http.Handler, *[]refusal, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var refused []refusal
	var served []string
	surf.Refuse = func(w http.ResponseWriter, r *http.Request, err error) {
		mu.Lock()
		refused = append(refused, refusal{err: err})
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
	}
	cfg.Surface = func(string) *Surface { return surf }
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		served = append(served, Client(r))
		mu.Unlock()
	})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	return Middleware(logger, func(http.ResponseWriter, *http.Request) {}, WithRoutes(mux))(Guard(cfg)(mux)), &refused, &served
}

func TestGuardSizes(t *testing.T) {
	h, refused, _ := guarded(t, GuardConfig{MaxURL: 100, MaxHeader: 200}, &Surface{Name: "test"})

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/?q="+strings.Repeat("a", 200), nil))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Big", strings.Repeat("b", 300))
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/fine", nil))

	require.Len(t, *refused, 2)
	require.ErrorIs(t, (*refused)[0].err, ErrURLTooLong)
	require.ErrorIs(t, (*refused)[1].err, ErrHeadersTooLarge)
}

func TestGuardBearerKeys(t *testing.T) {
	keys := NewKeys(BearerKey{Name: "ops", Key: "0123456789abcdef-ops"}, BearerKey{Name: "ci", Key: "0123456789abcdef-ci"})
	h, refused, served := guarded(t, GuardConfig{}, &Surface{Name: "test", Keys: keys})

	for _, auth := range []string{"", "Bearer", "Bearer wrong-key-0123456789", "Basic 0123456789abcdef-ops", "Bearer 0123456789abcdef-op"} {
		req := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, `Bearer realm="erasure"`, rec.Header().Get("WWW-Authenticate"), auth)
	}
	require.Len(t, *refused, 5)
	for _, r := range *refused {
		require.ErrorIs(t, r.err, ErrUnauthenticated)
	}
	for _, auth := range []string{"Bearer 0123456789abcdef-ci", "bearer  0123456789abcdef-ops "} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", auth)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	require.Equal(t, []string{"ci", "ops"}, *served, "the key's name is the request's client")
}

func TestGuardClosedSurface(t *testing.T) {
	h, refused, served := guarded(t, GuardConfig{}, &Surface{Name: "test", Closed: "off until a token is set"})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader("{}")))
	require.Empty(t, *served)
	require.Len(t, *refused, 1)
	require.ErrorIs(t, (*refused)[0].err, ErrUnauthenticated)
	require.Contains(t, (*refused)[0].err.Error(), "off until a token is set")
}

func TestGuardRateLimitPerClient(t *testing.T) {
	keys := NewKeys(BearerKey{Name: "ops", Key: "0123456789abcdef-ops"})
	h, refused, served := guarded(t, GuardConfig{Rate: 0.5, Burst: 2, ExemptLoopback: true}, &Surface{Name: "test", Keys: keys})
	send := func(remote string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = remote
		req.Header.Set("Authorization", "Bearer 0123456789abcdef-ops")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	// One key is one client, whatever its address; the loopback exemption is for anonymous clients.
	require.Equal(t, http.StatusOK, send("198.51.100.7:1000").Code)
	require.Equal(t, http.StatusOK, send("127.0.0.1:1001").Code)
	rec := send("198.51.100.8:1002")
	require.Equal(t, http.StatusTeapot, rec.Code)
	require.Equal(t, "2", rec.Header().Get("Retry-After"), "one token every 2s")
	require.Len(t, *served, 2)
	require.ErrorIs(t, (*refused)[0].err, ErrRateLimited)
}

func TestGuardRateLimitByAddress(t *testing.T) {
	h, refused, served := guarded(t, GuardConfig{Rate: 1, Burst: 1, ExemptLoopback: true}, &Surface{Name: "test"})
	send := func(remote string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = remote
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	send("198.51.100.7:1")
	send("198.51.100.7:2")      // same address: refused
	send("198.51.100.9:3")      // another address: its own bucket
	send("[2001:db8::1]:4")     // an IPv6 /64 is one client...
	send("[2001:db8::2]:5")     // ...so this is refused
	send("[2001:db8:0:1::1]:6") // another /64
	for range 5 {
		send("127.0.0.1:7") // loopback: exempt
		send("[::1]:8")
	}
	require.Len(t, *served, 4+10)
	require.Len(t, *refused, 2)
}

func TestClientLimiterBounded(t *testing.T) {
	c := &clientLimiter{rate: 1, burst: 1, clients: map[string]*rate.Limiter{}}
	now := time.Now()
	for i := range maxClients + 10 {
		c.allow("c"+strconv.Itoa(i), now)
	}
	require.LessOrEqual(t, len(c.clients), maxClients+1)
	// Later, the idle buckets are full again and are forgotten to make room.
	c.allow("late", now.Add(time.Minute))
	require.Less(t, len(c.clients), 10)
}

func TestGuardLargeBodies(t *testing.T) {
	// Clients with a key and clients without one have a slot each: the second of either kind
	// waits for its kind's slot, never for the other kind's.
	keys := NewKeys(BearerKey{Name: "ops", Key: "0123456789abcdef-ops"})
	refuse := func(w http.ResponseWriter, _ *http.Request, err error) {
		require.ErrorIs(t, err, ErrTooManyLargeBodies)
		w.WriteHeader(http.StatusTooManyRequests)
	}
	keyed, anonymous := &Surface{Name: "v1", Keys: keys, Refuse: refuse}, &Surface{Name: "tencent", Refuse: refuse}
	release := make(chan struct{})
	entered := make(chan string, 4)
	h := Middleware(slog.New(slog.NewTextHandler(io.Discard, nil)), func(http.ResponseWriter, *http.Request) {}, WithRoutes(routes{}))(
		Guard(GuardConfig{LargeBody: 10, MaxLarge: 1, MaxLargeAnonymous: 1, LargeBodyWait: 50 * time.Millisecond,
			Surface: func(route string) *Surface {
				if route == "/keyed" {
					return keyed
				}
				return anonymous
			}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- r.URL.Path
			<-release
		})))
	big := func(path string) *http.Request {
		req := httptest.NewRequest("POST", path, strings.NewReader(strings.Repeat("x", 100)))
		req.Header.Set("Authorization", "Bearer 0123456789abcdef-ops")
		return req
	}
	var held sync.WaitGroup
	for _, path := range []string{"/anonymous", "/keyed"} {
		held.Go(func() { h.ServeHTTP(httptest.NewRecorder(), big(path)) })
		require.Equal(t, path, <-entered, "each kind gets its own slot")
	}
	for _, path := range []string{"/anonymous", "/keyed"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, big(path))
		require.Equal(t, http.StatusTooManyRequests, rec.Code, path)
		require.Equal(t, "1", rec.Header().Get("Retry-After"))
	}
	// A small body never waits for a slot.
	held.Go(func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/anonymous", strings.NewReader("x")))
	})
	require.Equal(t, "/anonymous", <-entered)
	close(release)
	held.Wait()
}

// routes names every request's route by its path.
type routes struct{}

func (routes) Handler(r *http.Request) (http.Handler, string) { return nil, r.URL.Path }

func TestKeysMatch(t *testing.T) {
	var none *Keys
	_, ok := none.Match("anything")
	require.False(t, ok)
	require.Nil(t, NewKeys())
	k := NewKeys(BearerKey{Name: "a", Key: "key-a-0123456789"}, BearerKey{Name: "b", Key: "key-b-0123456789"})
	name, ok := k.Match("key-b-0123456789")
	require.True(t, ok)
	require.Equal(t, "b", name)
	_, ok = k.Match("")
	require.False(t, ok)
}

func TestGuardLargeBodiesPerClient(t *testing.T) {
	// One client without a key holds at most MaxLargePerClient (4) of the anonymous slots; others
	// still get theirs. A client is its address (IPv6: its /64), as for the rate limiter; on
	// loopback, where one address stands for every local client, only the pool bounds them.
	keys := NewKeys(BearerKey{Name: "ops", Key: "0123456789abcdef-ops"})
	var mu sync.Mutex
	var refused []error
	refuse := func(w http.ResponseWriter, _ *http.Request, err error) {
		mu.Lock()
		refused = append(refused, err)
		mu.Unlock()
		w.WriteHeader(http.StatusTooManyRequests)
	}
	keyed, anonymous := &Surface{Name: "v1", Keys: keys, Refuse: refuse}, &Surface{Name: "tencent", Refuse: refuse}
	release := make(chan struct{})
	entered := make(chan string, 64)
	h := Middleware(slog.New(slog.NewTextHandler(io.Discard, nil)), func(http.ResponseWriter, *http.Request) {}, WithRoutes(routes{}))(
		Guard(GuardConfig{LargeBody: 10, MaxLarge: 8, MaxLargeAnonymous: 16, LargeBodyWait: 5 * time.Second, ExemptLoopback: true,
			Surface: func(route string) *Surface {
				if route == "/keyed" {
					return keyed
				}
				return anonymous
			}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- r.RemoteAddr
			<-release
		})))
	big := func(path, remote string) *http.Request {
		req := httptest.NewRequest("POST", path, strings.NewReader(strings.Repeat("x", 100)))
		req.RemoteAddr = remote
		req.Header.Set("Authorization", "Bearer 0123456789abcdef-ops")
		return req
	}
	var held sync.WaitGroup
	hold := func(path, remote string) {
		t.Helper()
		held.Go(func() { h.ServeHTTP(httptest.NewRecorder(), big(path, remote)) })
		select {
		case got := <-entered:
			require.Equal(t, remote, got)
		case <-time.After(10 * time.Second):
			require.Fail(t, "no slot", "%s %s", path, remote)
		}
	}
	refusedNow := func(path, remote string) {
		t.Helper()
		start := time.Now()
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		held.Go(func() { h.ServeHTTP(rec, big(path, remote)); close(done) })
		select {
		case <-done:
		case got := <-entered:
			close(release) // let the handlers go, so that the test ends
			require.Fail(t, "a client over its share got a slot", got)
		}
		require.Equal(t, http.StatusTooManyRequests, rec.Code, remote)
		require.Equal(t, "1", rec.Header().Get("Retry-After"))
		require.Less(t, time.Since(start), 4*time.Second, "a client over its share does not wait for a slot")
	}
	for i := range 4 {
		hold("/anonymous", "198.51.100.7:"+strconv.Itoa(1000+i))
	}
	refusedNow("/anonymous", "198.51.100.7:2000")
	hold("/anonymous", "198.51.100.8:1000") // another client
	for i := range 4 {
		hold("/anonymous", "[2001:db8::"+strconv.Itoa(i+1)+"]:1000")
	}
	refusedNow("/anonymous", "[2001:db8::ff]:1000")     // the same /64
	refusedNow("/anonymous", "[::ffff:198.51.100.7]:1") // the same IPv4 address, mapped
	for i := range 5 {
		hold("/anonymous", "127.0.0.1:"+strconv.Itoa(1000+i)) // loopback: only the pool
	}
	for i := range 5 {
		hold("/keyed", "198.51.100.7:"+strconv.Itoa(3000+i)) // a key: its own pool, no per-client share
	}
	mu.Lock()
	require.Len(t, refused, 3)
	for _, err := range refused {
		require.ErrorIs(t, err, ErrTooManyLargeBodies)
	}
	mu.Unlock()
	close(release)
	held.Wait()
}
