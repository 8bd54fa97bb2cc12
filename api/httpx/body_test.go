package httpx

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/metrics"
)

// bodyOutcome is what a handler behind the guard saw of its request.
type bodyOutcome struct {
	n       int
	err     error
	ctxDone bool // the request's context had ended when the handler finished its work
}

// pacedServer serves a handler that reads the whole body (its first byte, then the rest, working
// for pause between them and after), behind Middleware and Guard with a body timeout of idle and
// a minimum rate of 1 MiB/s.
func pacedServer(t *testing.T, idle, pause time.Duration) (string, <-chan bodyOutcome, *metrics.Metrics) {
	t.Helper()
	outcomes := make(chan bodyOutcome, 1)
	m := metrics.New()
	surf := &Surface{Name: "test", Refuse: func(w http.ResponseWriter, _ *http.Request, err error) { t.Errorf("refused: %v", err) }}
	// A high minimum rate, so that what the server has buffered early earns the body little time:
	// counting the server's own pauses against the client would cut it off.
	h := Guard(GuardConfig{BodyTimeout: idle, MinBodyRate: 1 << 20, Surface: func(string) *Surface { return surf }, Metrics: m})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, err := io.ReadFull(r.Body, make([]byte, 1))
			if err == nil {
				<-time.After(pause) // the server's own work between reads: not the client's time
				var rest []byte
				rest, err = io.ReadAll(r.Body)
				n += len(rest)
			}
			if err == nil {
				<-time.After(pause) // and after the body: the request must stay alive
			}
			outcomes <- bodyOutcome{n: n, err: err, ctxDone: r.Context().Err() != nil}
			if errors.Is(err, ErrSlowBody) {
				w.WriteHeader(http.StatusRequestTimeout)
			}
		}))
	srv := httptest.NewServer(Middleware(slog.New(slog.NewTextHandler(io.Discard, nil)), func(http.ResponseWriter, *http.Request) {})(h))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), outcomes, m
}

// post writes a request of size bytes on a raw connection, its body as write sends it, and
// returns the status line the server answers. header lines ("Name: value\r\n") go along.
func post(t *testing.T, addr string, size int, write func(w io.Writer) error, header ...string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s\r\n", addr, size, strings.Join(header, ""))
	require.NoError(t, err)
	go func() { _ = write(conn) }()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	status, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(status)
}

func TestGuardCutsOffSlowBodies(t *testing.T) {
	// The cases cut off are timed with a short idle time; those that must not be cut off have a
	// longer one, so that a writer goroutine scheduled late on a loaded machine (-race, 2 cores)
	// is not taken for a slow client.
	const idle, patient = 300 * time.Millisecond, 2 * time.Second
	for _, tt := range []struct {
		name  string
		size  int
		pause time.Duration
		write func(w io.Writer) error
		cut   bool
	}{
		{name: "a whole body at once", size: 4 << 10,
			write: func(w io.Writer) error { _, err := w.Write(make([]byte, 4<<10)); return err }},
		{name: "the server works between reads and after the body", size: 256 << 10, pause: patient + time.Second,
			write: func(w io.Writer) error { _, err := w.Write(make([]byte, 256<<10)); return err }},
		{name: "a body that sends a line and stalls", size: 4 << 10, cut: true,
			write: func(w io.Writer) error { _, err := w.Write([]byte("p-1\n")); return err }},
		{name: "a body that trickles, never idle for long, under the minimum rate", size: 4 << 10, cut: true,
			write: func(w io.Writer) error {
				for {
					if _, err := w.Write([]byte("x")); err != nil {
						return err
					}
					<-time.After(idle / 4)
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			timeout := patient
			if tt.cut {
				timeout = idle
			}
			addr, outcomes, m := pacedServer(t, timeout, tt.pause)
			start := time.Now()
			status := post(t, addr, tt.size, tt.write)
			got := <-outcomes
			if !tt.cut {
				require.NoError(t, got.err)
				require.Equal(t, tt.size, got.n)
				require.False(t, got.ctxDone, "the request outlived the body's deadline")
				require.Equal(t, "HTTP/1.1 200 OK", status)
				return
			}
			require.ErrorIs(t, got.err, ErrSlowBody)
			require.Equal(t, "HTTP/1.1 408 Request Timeout", status)
			// Cut off after the idle time (the trickle: once its average fell under the rate).
			require.GreaterOrEqual(t, time.Since(start), idle)
			require.Less(t, time.Since(start), 10*idle)
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			require.Contains(t, rec.Body.String(), `erasure_http_refused_total{reason="slow_body",surface="test"} 1`)
		})
	}
}

func TestGuardBoundsAnonymousLargeBodies(t *testing.T) {
	// A body that keeps the minimum rate (1 KiB/s) is cut off once the server has waited
	// MaxAnonymousBody for it, when it is large and its client has no key: it holds an anonymous
	// slot. A client with a key, or a small body, may take as long as its rate allows.
	const bound = time.Second
	keys := NewKeys(BearerKey{Name: "ops", Key: "0123456789abcdef-ops"})
	trickle := func(w io.Writer) error { // 2.5 KiB/s, never idle for long: 8 KiB take 3.2 s
		for {
			if _, err := w.Write(make([]byte, 256)); err != nil {
				return err
			}
			<-time.After(100 * time.Millisecond)
		}
	}
	for _, tt := range []struct {
		name   string
		keyed  bool
		size   int
		header []string
		cut    bool
	}{
		{name: "a large body without a key", size: 8 << 10, cut: true},
		{name: "a large body with a key", size: 8 << 10, keyed: true, header: []string{"Authorization: Bearer 0123456789abcdef-ops\r\n"}},
		{name: "a small body without a key", size: 4 << 10}, // 1.6 s: longer than the bound
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			outcomes := make(chan bodyOutcome, 1)
			m := metrics.New()
			surf := &Surface{Name: "test", Refuse: func(w http.ResponseWriter, _ *http.Request, err error) { t.Errorf("refused: %v", err) }}
			if tt.keyed {
				surf.Keys = keys
			}
			h := Guard(GuardConfig{BodyTimeout: 2 * time.Second, LargeBody: 4 << 10, MaxAnonymousBody: bound,
				Surface: func(string) *Surface { return surf }, Metrics: m})(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, err := io.ReadAll(r.Body)
					outcomes <- bodyOutcome{n: len(body), err: err}
					if errors.Is(err, ErrSlowBody) {
						w.WriteHeader(http.StatusRequestTimeout)
					}
				}))
			srv := httptest.NewServer(Middleware(slog.New(slog.NewTextHandler(io.Discard, nil)), func(http.ResponseWriter, *http.Request) {})(h))
			t.Cleanup(srv.Close)
			start := time.Now()
			status := post(t, srv.Listener.Addr().String(), tt.size, trickle, tt.header...)
			got := <-outcomes
			if !tt.cut {
				require.NoError(t, got.err)
				require.Equal(t, tt.size, got.n)
				require.Equal(t, "HTTP/1.1 200 OK", status)
				return
			}
			require.ErrorIs(t, got.err, ErrSlowBody)
			require.ErrorContains(t, got.err, "must be complete within 1s")
			require.Equal(t, "HTTP/1.1 408 Request Timeout", status)
			require.GreaterOrEqual(t, time.Since(start), bound)
			require.Less(t, time.Since(start), 3*bound, "cut off at the bound, not when the body would have ended")
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			require.Contains(t, rec.Body.String(), `erasure_http_refused_total{reason="slow_body",surface="test"} 1`)
		})
	}
}

func TestDecodeJSONSaysTheBodyWasSlow(t *testing.T) {
	req := httptest.NewRequest("POST", "/", io.MultiReader(strings.NewReader(`{"a":`), iotestErr{fmt.Errorf("%w: stalled", ErrSlowBody)}))
	var v map[string]any
	err := DecodeJSON(req, 1<<10, &v)
	require.ErrorIs(t, err, ErrSlowBody)
	require.NotErrorIs(t, err, ErrInvalidJSON)
}

// iotestErr is a reader that fails with err.
type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }
