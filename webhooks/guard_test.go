package webhooks

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPublicAddr(t *testing.T) {
	for addr, public := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1:248:1893:25c8:1946": true, "8.8.8.8": true,
		"127.0.0.1": false, "127.1.2.3": false, "::1": false, "10.0.0.1": false, "172.31.255.255": false,
		"192.168.0.1": false, "169.254.169.254": false, "fe80::1": false, "fd00::1": false, "0.0.0.0": false,
		"::": false, "100.64.0.1": false, "224.0.0.1": false, "255.255.255.255": false, "::ffff:10.0.0.1": false,
		"::ffff:8.8.8.8": true, "64:ff9b::a00:1": false,
	} {
		require.Equal(t, public, publicAddr(netip.MustParseAddr(addr)), addr)
	}
}

// The dialer refuses a private address at connect time, whatever the URL looked like when it was
// subscribed: here "localhost", as a name that resolves to loopback would after DNS rebinding.
// No request reaches the receiver.
func TestSenderRefusesPrivateAddressAtConnect(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	cfg := Config{}
	cfg.setDefaults()
	s := newSender(cfg)
	port := srv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	for _, url := range []string{srv.URL, "http://localhost:" + strconv.Itoa(int(port)) + "/hook"} {
		a := s.send(context.Background(), endpoint{URL: url, Secret: NewSecret()}, delivery{MessageID: "m1", Body: "{}"})
		require.ErrorIs(t, a.err, ErrURLNotAllowed, url)
		require.False(t, a.ok())
	}
	require.Zero(t, hits.Load())

	// Allowed, the same send goes through.
	cfg.AllowPrivate = true
	a := newSender(cfg).send(context.Background(), endpoint{URL: srv.URL}, delivery{MessageID: "m1", Body: "{}"})
	require.NoError(t, a.err)
	require.True(t, a.ok())
	require.EqualValues(t, 1, hits.Load())
}

// A redirect is not followed: it is an answer (a failed attempt), never a new target.
func TestSenderDoesNotFollowRedirects(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	cfg := Config{AllowPrivate: true}
	cfg.setDefaults()
	a := newSender(cfg).send(context.Background(), endpoint{URL: redirect.URL}, delivery{MessageID: "m1", Body: "{}"})
	require.Equal(t, http.StatusTemporaryRedirect, a.status)
	require.False(t, a.ok())
	require.Zero(t, hits.Load())
}

func TestCheckURL(t *testing.T) {
	g := guard{}
	for _, raw := range []string{"http://127.0.0.1/x", "http://localhost/x", "http://api.localhost/x", "http://[::1]:9/x"} {
		_, err := g.checkURL(context.Background(), raw)
		require.ErrorIs(t, err, ErrURLNotAllowed, raw)
	}
	for _, raw := range []string{"", "ftp://a.example/x", "//a.example/x", "http://u:p@a.example/x", "http://a.example/" + string(make([]byte, 3000))} {
		_, err := g.checkURL(context.Background(), raw)
		require.ErrorIs(t, err, ErrInvalidURL, raw)
	}
	_, err := g.checkURL(context.Background(), "https://93.184.216.34/hook")
	require.NoError(t, err)
	_, err = guard{allowPrivate: true}.checkURL(context.Background(), "http://127.0.0.1:9/x")
	require.NoError(t, err)
}

func TestRetryTiming(t *testing.T) {
	now := time.Now()
	require.Equal(t, 7*time.Second, retryAfter("7", now))
	require.Equal(t, maxRetryAfter, retryAfter("999999999", now))
	require.Zero(t, retryAfter("soon", now))
	require.InDelta(t, float64(time.Minute), float64(retryAfter(now.Add(time.Minute).UTC().Format(http.TimeFormat), now)), float64(2*time.Second))

	// The schedule's wait, jittered through internal/retry by a fifth either way: within
	// [4m, 6m], and spread (workers that failed together do not come back together).
	schedule := []time.Duration{5 * time.Second, 5 * time.Minute}
	seen := map[time.Duration]bool{}
	for range 100 {
		d := retryDelay(schedule, 2, attempt{status: 500})
		require.GreaterOrEqual(t, d, 4*time.Minute)
		require.LessOrEqual(t, d, 6*time.Minute)
		seen[d] = true
	}
	require.Greater(t, len(seen), 90, "the waits are not jittered")
	require.Equal(t, 3*time.Second, retryDelay(schedule, 1, attempt{status: 429, retryAfter: 3 * time.Second}))
}

// Every IPv6 form that reaches, or may be turned into, a refused IPv4 address (or is itself not
// a public unicast address) is refused both when the URL is checked (subscription, callback URL)
// and when the dialer is about to connect (after DNS, so a name cannot rebind onto one).
func TestIPv6FormsOfRefusedAddresses(t *testing.T) {
	refused := []string{
		"::127.0.0.1", "0:0:0:0:0:0:7f00:1", "::10.0.0.1", "::192.168.1.1", "::169.254.169.254", // IPv4-compatible, ::/96
		"::8.8.8.8", "::", "::1", "::2", // the rest of ::/96: deprecated, no public receiver there
		"::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", // IPv4-mapped
		"::ffff:0:127.0.0.1", "::ffff:0:a00:1", // IPv4-translated
		"64:ff9b::127.0.0.1", "64:ff9b::a00:1", "64:ff9b:1::a00:1", // NAT64
		"2002:7f00:1::1", "2002:a00:1::", "2002:c0a8:101::1", // 6to4 embedding loopback or private
		"2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
		"fe80::1", "fe80::1%eth0", "::127.0.0.1%eth0", "64:ff9b::a00:1%1", "2002:a00:1::%lo", // zones change nothing
		"fc00::1", "fd12:3456::1", "fec0::1", // link-local, unique-local, site-local
		"ff02::1", "ff05::2", "ff0e::1", // multicast
		"100::1", // discard-only
	}
	public := []string{"2606:2800:220:1:248:1893:25c8:1946", "2a00:1450:4001:82a::200e", "::ffff:8.8.8.8", "8.8.8.8"}

	g := guard{}
	for _, a := range refused {
		host := "[" + strings.ReplaceAll(a, "%", "%25") + "]"
		_, err := g.checkURL(context.Background(), "http://"+host+":8080/hook")
		require.ErrorIs(t, err, ErrURLNotAllowed, "subscription check: %s", a)
		require.ErrorIs(t, g.control("tcp6", net.JoinHostPort(a, "8080"), nil), ErrURLNotAllowed, "dial-time check: %s", a)
	}
	for _, a := range public {
		host := a
		if strings.Contains(a, ":") {
			host = "[" + a + "]"
		}
		_, err := g.checkURL(context.Background(), "https://"+host+"/hook")
		require.NoError(t, err, a)
		require.NoError(t, g.control("tcp", net.JoinHostPort(a, "443"), nil), a)
	}
}

// A real delivery to a loopback receiver addressed as an IPv4-compatible IPv6 address is
// refused by the dialer before any connection, and the receiver sees nothing.
func TestSenderRefusesIPv4CompatibleLoopback(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := strconv.Itoa(int(srv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()))
	cfg := Config{}
	cfg.setDefaults()
	for _, url := range []string{"http://[::127.0.0.1]:" + port + "/hook", "http://[0:0:0:0:0:0:7f00:1]:" + port + "/hook"} {
		a := newSender(cfg).send(context.Background(), endpoint{URL: url, Secret: NewSecret()}, delivery{MessageID: "m1", Body: "{}"})
		require.ErrorIs(t, a.err, ErrURLNotAllowed, url)
	}
	require.Zero(t, hits.Load())
}
