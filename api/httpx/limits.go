package httpx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/erasure-dev/erasure/metrics"
)

// Errors of the guard, each mapped by every surface's error table to its own format.
var (
	ErrRateLimited        = errors.New("request rate limit exceeded")
	ErrTooManyLargeBodies = errors.New("too many large requests in flight")
	ErrURLTooLong         = errors.New("request URL too long")
	ErrHeadersTooLarge    = errors.New("request headers too large")
	// ErrSlowBody is what reading a request body returns once the client stopped sending it, or
	// sends it too slowly (GuardConfig.BodyTimeout): a surface answers it as its own timeout.
	ErrSlowBody = errors.New("request body too slow")
)

// Defaults of GuardConfig. The rate is per client: generous enough that a client seeding as
// fast as it can is never refused (DESIGN §5), low enough that one client cannot starve the others.
const (
	DefaultRate      = 1000 // requests per second per client
	DefaultBurst     = 2000
	DefaultMaxURL    = 16 << 10
	DefaultMaxHeader = 32 << 10 // below the server's MaxHeaderBytes, so the surface answers, not net/http
	DefaultLargeBody = 1 << 20
	DefaultMaxLarge  = 32 // for clients with a key
	// DefaultMaxLargeAnonymous is the share of the clients without one: every Tencent client
	// (its signature covers the body, so it is checked after), and every client where no key is
	// configured. Bodies are read whole: the two pools bound their memory together.
	DefaultMaxLargeAnonymous = 16
	// DefaultMaxLargePerClient is how many of the MaxLargeAnonymous slots one client (its
	// address, IPv6 by /64) may hold or wait for at once: a few clients cannot take the pool.
	DefaultMaxLargePerClient = 4
	// DefaultMaxAnonymousBody bounds how long a large body of a client without a key may take,
	// counting only the time the server waits for it: without it a body that keeps the minimum
	// rate holds its slot for size/MinBodyRate (a 24 MiB Tencent body at 1 KiB/s: 6.8 hours).
	// Two minutes carry the largest Tencent body (24 MiB) at 205 KiB/s (1.6 Mbit/s, a slow
	// uplink) and free an attacker's slot 200 times sooner.
	DefaultMaxAnonymousBody = 2 * time.Minute
	DefaultLargeBodyWait    = 10 * time.Second
	// DefaultBodyTimeout and DefaultMinBodyRate never hurt a real client: the slowest mobile link
	// sends its next packet within seconds and carries several KiB/s.
	DefaultBodyTimeout = 10 * time.Second
	DefaultMinBodyRate = 1 << 10 // bytes per second
	// maxClients bounds the rate limiter's memory: idle clients are forgotten first, and beyond
	// it new clients share one bucket.
	maxClients = 10_000
)

// Refuser answers a refused request in its surface's own format.
type Refuser func(w http.ResponseWriter, r *http.Request, err error)

// Surface is a front door as the guard sees it.
type Surface struct {
	Name string // "native", "sophon", "tencent": the metrics label
	// Keys are required as "Authorization: Bearer KEY" on every route of the surface; nil
	// requires none.
	Keys *Keys
	// Closed, when set, refuses every request of the surface as unauthenticated, saying why
	// (a surface without credentials on an address others can reach).
	Closed string
	// AnyHost exempts the surface from the Host check (GuardConfig.Hosts): health probes come by
	// address, under whatever name the prober was given.
	AnyHost bool
	Refuse  Refuser
}

// GuardConfig configures Guard.
type GuardConfig struct {
	// Surface returns the surface a route (a ServeMux pattern, "" when none matches) belongs to.
	Surface func(route string) *Surface
	// Hosts, when set, are the names the server answers to: a request with another Host header
	// is refused (ErrHostNotAllowed) unless its surface is AnyHost. nil answers any Host.
	Hosts *Hosts
	// Rate (requests per second) and Burst size each client's token bucket; a client is the API
	// key it authenticated with, else its IP address (IPv6: its /64). Rate < 0 turns it off.
	Rate  float64
	Burst int
	// ExemptLoopback leaves unauthenticated clients on a loopback address unlimited by the rate
	// and by MaxLargePerClient (they still share the MaxLargeAnonymous pool): the machine itself
	// (an edge box's own clients, a test), where one address stands for every client.
	ExemptLoopback bool
	MaxURL         int // bytes of the request target, default DefaultMaxURL
	MaxHeader      int // bytes of all header names and values, default DefaultMaxHeader
	// A request whose body is over LargeBody bytes, or of unknown length, holds a slot while it
	// is served, waiting up to LargeBodyWait for one: bodies are read whole, and this bounds the
	// memory they can take together. A client that authenticated with a key before its body
	// takes one of MaxLarge slots, any other one of MaxLargeAnonymous: clients without a key
	// cannot hold the slots that clients with one need. One client without a key (as the rate
	// limiter names it) holds or waits for at most MaxLargePerClient of its pool's slots.
	LargeBody         int64
	MaxLarge          int
	MaxLargeAnonymous int
	MaxLargePerClient int
	LargeBodyWait     time.Duration
	// MaxAnonymousBody cuts off (ErrSlowBody) a large body of a client without a key once the
	// server has waited that long for it in all, however steadily it comes: such a client
	// cannot hold an anonymous slot for longer. Default DefaultMaxAnonymousBody; < 0 turns it
	// off, as BodyTimeout < 0 does.
	MaxAnonymousBody time.Duration
	// BodyTimeout cuts off a request body (its reads fail with ErrSlowBody) that sends nothing
	// for that long, or that averages under MinBodyRate bytes per second once the server has
	// waited that long for it: a client that trickles cannot hold a slot (a large body, a bulk
	// stream) or a connection for longer. Only the time the server spends waiting for the body
	// counts, so a handler that pauses between reads does not cut its client off. BodyTimeout < 0
	// turns it off, and MaxAnonymousBody with it.
	BodyTimeout time.Duration
	MinBodyRate float64
	Metrics     *metrics.Metrics
}

func (c *GuardConfig) setDefaults() {
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.MaxURL <= 0 {
		c.MaxURL = DefaultMaxURL
	}
	if c.MaxHeader <= 0 {
		c.MaxHeader = DefaultMaxHeader
	}
	if c.LargeBody <= 0 {
		c.LargeBody = DefaultLargeBody
	}
	if c.MaxLarge <= 0 {
		c.MaxLarge = DefaultMaxLarge
	}
	if c.MaxLargeAnonymous <= 0 {
		c.MaxLargeAnonymous = DefaultMaxLargeAnonymous
	}
	if c.BodyTimeout == 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.MinBodyRate <= 0 {
		c.MinBodyRate = DefaultMinBodyRate
	}
	if c.MaxLargePerClient <= 0 {
		c.MaxLargePerClient = DefaultMaxLargePerClient
	}
	if c.MaxAnonymousBody == 0 {
		c.MaxAnonymousBody = DefaultMaxAnonymousBody
	}
	if c.LargeBodyWait <= 0 {
		c.LargeBodyWait = DefaultLargeBodyWait
	}
}

// Guard enforces, in this order, the request's size (URL, headers), its Host, that a browser did
// not send it from another site (state-changing methods), the surface's authentication, the
// client's request rate and the number of large bodies in flight. A refused request is answered
// by its surface's Refuser, after the guard set Retry-After (429) or WWW-Authenticate (401). It
// runs inside Middleware (WithRoutes), which names the route; every route of the mux, those
// added later included, passes it.
func Guard(cfg GuardConfig) func(http.Handler) http.Handler {
	cfg.setDefaults()
	limiter := &clientLimiter{rate: rate.Limit(cfg.Rate), burst: cfg.Burst, clients: map[string]*rate.Limiter{}}
	large := map[bool]chan struct{}{true: make(chan struct{}, cfg.MaxLarge), false: make(chan struct{}, cfg.MaxLargeAnonymous)}
	perClient := &clientCounts{max: cfg.MaxLargePerClient, n: map[string]int{}}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			surf := cfg.Surface(Route(r))
			refuse := func(reason string, err error) {
				cfg.Metrics.Refused(surf.Name, reason)
				surf.Refuse(w, r, err)
			}
			target := r.RequestURI
			if target == "" {
				target = r.URL.RequestURI()
			}
			if len(target) > cfg.MaxURL {
				refuse("url_too_long", fmt.Errorf("%w: %d bytes, at most %d", ErrURLTooLong, len(target), cfg.MaxURL))
				return
			}
			if n := headerBytes(r); n > cfg.MaxHeader {
				refuse("headers_too_large", fmt.Errorf("%w: %d bytes, at most %d", ErrHeadersTooLarge, n, cfg.MaxHeader))
				return
			}
			if cfg.Hosts != nil && !surf.AnyHost && !cfg.Hosts.Allow(r.Host) {
				refuse("host_not_allowed", fmt.Errorf("%w: this server does not answer to %q; it answers to loopback names "+
					"and addresses and to the names in ERASURE_ALLOWED_HOSTS", ErrHostNotAllowed, r.Host))
				return
			}
			if err := crossSite(r); err != nil {
				refuse("cross_site", err)
				return
			}
			switch {
			case surf.Closed != "":
				refuse("unauthenticated", fmt.Errorf("%w: %s", ErrUnauthenticated, surf.Closed))
				return
			case surf.Keys != nil:
				token, ok := bearer(r)
				name, readOnly, known := surf.Keys.Lookup(token)
				if !ok || !known {
					w.Header().Set("WWW-Authenticate", `Bearer realm="erasure"`)
					msg := "send Authorization: Bearer KEY with a key the server knows"
					if !ok {
						msg = "no bearer key: send Authorization: Bearer KEY"
					}
					refuse("unauthenticated", fmt.Errorf("%w: %s", ErrUnauthenticated, msg))
					return
				}
				if st := state(r); st != nil {
					st.client = name
				}
				if readOnly && !Safe(r) {
					refuse("read_only", fmt.Errorf("%w: %q may read but not change anything; use a key without :read", ErrReadOnly, name))
					return
				}
			}
			if cfg.Rate > 0 {
				key, limited := clientKey(r, cfg.ExemptLoopback)
				if limited {
					if ok, wait := limiter.allow(key, time.Now()); !ok {
						secs := max(1, int(math.Ceil(wait.Seconds())))
						w.Header().Set("Retry-After", strconv.Itoa(secs))
						refuse("rate_limited", fmt.Errorf("%w: at most %g requests per second per client (burst %d); retry after %ds",
							ErrRateLimited, cfg.Rate, cfg.Burst, secs))
						return
					}
				}
			}
			var total time.Duration // the bound on the body's waiting in all, 0 for none
			if r.Body != nil && r.Body != http.NoBody && (r.ContentLength > cfg.LargeBody || r.ContentLength < 0) {
				keyed := Client(r) != ""
				if !keyed {
					// Counted before the pool, waiting included: one client cannot queue for
					// every slot either.
					if key, limited := clientKey(r, cfg.ExemptLoopback); limited {
						if !perClient.take(key) {
							w.Header().Set("Retry-After", "1")
							refuse("too_many_large_bodies", fmt.Errorf("%w: at most %d requests with bodies over %d bytes at once from one client without an API key",
								ErrTooManyLargeBodies, cfg.MaxLargePerClient, cfg.LargeBody))
							return
						}
						defer perClient.give(key)
					}
					total = max(0, cfg.MaxAnonymousBody)
				}
				slots := large[keyed]
				if !acquire(r.Context(), slots, cfg.LargeBodyWait) {
					w.Header().Set("Retry-After", "1")
					whose := "clients without an API key"
					if keyed {
						whose = "clients with an API key"
					}
					refuse("too_many_large_bodies", fmt.Errorf("%w: at most %d requests with bodies over %d bytes at once from %s",
						ErrTooManyLargeBodies, cap(slots), cfg.LargeBody, whose))
					return
				}
				defer func() { <-slots }()
			}
			if cfg.BodyTimeout > 0 && r.Body != nil && r.Body != http.NoBody {
				r.Body = pace(w, r.Body, cfg.BodyTimeout, cfg.MinBodyRate, total, func() { cfg.Metrics.Refused(surf.Name, "slow_body") })
			}
			next.ServeHTTP(w, r)
		})
	}
}

func acquire(ctx context.Context, slots chan struct{}, wait time.Duration) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// headerBytes counts the header names and values as they travel ("Name: value\r\n").
func headerBytes(r *http.Request) int {
	n := len(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// ClientKey names r's client as the guard's per-client limits count it: the API key it
// authenticated with, else its address (an IPv4-mapped address as IPv4, an IPv6 address by its
// /64). limited is false for a client without a key on a loopback address, where one address
// stands for every client of the machine: a per-client cap must not apply to it (an overall cap
// still does). It is the guard's own notion with ExemptLoopback set, as the service sets it.
func ClientKey(r *http.Request) (key string, limited bool) { return clientKey(r, true) }

// clientKey names the rate limiter's client: the API key, else the address (an IPv6 address by
// its /64, which one machine commonly holds whole). limited is false for an exempt loopback client.
func clientKey(r *http.Request, exemptLoopback bool) (key string, limited bool) {
	if name := Client(r); name != "" {
		return "key:" + name, true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "addr:" + host, true
	}
	addr = addr.Unmap()
	if exemptLoopback && addr.IsLoopback() {
		return "", false
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return "net:" + p.String(), true
	}
	return "ip:" + addr.String(), true
}

// clientCounts counts what each client holds, up to max each. It holds only clients with
// something in flight, so its size is bounded by the requests being served.
type clientCounts struct {
	max int

	mu sync.Mutex
	n  map[string]int
}

// take counts one more for key, or reports that key holds max already.
func (c *clientCounts) take(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key] >= c.max {
		return false
	}
	c.n[key]++
	return true
}

// give counts one less for key.
func (c *clientCounts) give(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key]--; c.n[key] <= 0 {
		delete(c.n, key)
	}
}

// clientLimiter holds a token bucket per client, bounded in number.
type clientLimiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

// allow takes a token from key's bucket, or says how long until one is there.
func (c *clientLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.clients[key]
	if !ok {
		if len(c.clients) >= maxClients {
			c.forgetIdle(now)
		}
		if len(c.clients) >= maxClients {
			key = "overflow"
			l = c.clients[key]
		}
		if l == nil {
			l = rate.NewLimiter(c.rate, c.burst)
			c.clients[key] = l
		}
	}
	if l.AllowN(now, 1) {
		return true, 0
	}
	res := l.ReserveN(now, 1)
	wait := res.DelayFrom(now)
	res.CancelAt(now)
	return false, wait
}

// forgetIdle drops the buckets that are full again: their clients have been quiet long enough
// that a fresh bucket is the same.
func (c *clientLimiter) forgetIdle(now time.Time) {
	for k, l := range c.clients {
		if l.TokensAt(now) >= float64(c.burst) {
			delete(c.clients, k)
		}
	}
}
