package service

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/api/native"
	"github.com/erasure-dev/erasure/api/sophon"
	"github.com/erasure-dev/erasure/api/tencent"
	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/console"
)

// maxHeaderBytes is net/http's own bound on a request's header; the guard refuses smaller
// excesses first (httpx.DefaultMaxHeader), in the surface's format.
const maxHeaderBytes = 64 << 10

// handler returns every front door on one mux behind the shared middleware and the guard.
// exposed says the listener is reachable from other machines: the Sophon surface then closes
// unless ERASURE_SOPHON_TOKEN or ERASURE_API_KEYS is set.
func (s *Service) handler(exposed bool) http.Handler {
	mux := http.NewServeMux()
	native.New(s.App, s.logger).SetMaxBulk(s.cfg.MaxBulk).SetStreamLimits(s.cfg.Streams.PerClient, s.cfg.Streams.Total).
		Register(mux)
	sophon.New(s.App, s.logger, s.cfg.SophonWait).Register(mux)
	tencent.New(s.App, s.logger, tencent.Config{SecretID: s.cfg.TencentSecretID, SecretKey: s.cfg.TencentSecretKey,
		Rate: s.cfg.TencentRate, Burst: s.cfg.TencentBurst, Ledger: s.signatures,
		AllowUnsignedPayload: s.cfg.TencentAllowUnsignedPayload}).Register(mux)
	mux.Handle("GET /metrics", s.Metrics.Handler())

	keys, _ := s.cfg.Keys() // validated by Open
	var bearer, writers []httpx.BearerKey
	for _, k := range keys {
		bearer = append(bearer, httpx.BearerKey{Name: k.Name, Key: k.Key, ReadOnly: k.ReadOnly})
		if !k.ReadOnly {
			writers = append(writers, bearer[len(bearer)-1])
		}
	}
	v1 := &httpx.Surface{Name: "native", Keys: httpx.NewKeys(bearer...), Refuse: native.Refuse}
	// The console logs in with the same keys and carries its session in a cookie, so the guard
	// asks it for no bearer key; it checks the session itself.
	s.registerConsole(mux, v1.Keys)
	consoleSurface := &httpx.Surface{Name: "console", Refuse: console.Refuse}
	open := &httpx.Surface{Name: "native", Refuse: native.Refuse}
	probe := &httpx.Surface{Name: "native", AnyHost: true, Refuse: native.Refuse}
	// With API keys set, no surface answers without a credential, wherever it listens (a reverse
	// proxy makes loopback public): the Sophon surface takes its token or any API key, whose name
	// is then the actor of what the request records.
	// Sophon's surface reads and writes through POST alike, so a read-only key is not one of its
	// credentials at all.
	sophonKeys := slices.Clone(writers)
	if s.cfg.SophonToken != "" {
		sophonKeys = append(sophonKeys, httpx.BearerKey{Name: sophon.TokenActor, Key: s.cfg.SophonToken})
	}
	sophonSurface := &httpx.Surface{Name: "sophon", Keys: httpx.NewKeys(sophonKeys...), Refuse: sophon.Refuse}
	switch {
	case sophonSurface.Keys == nil && len(bearer) > 0:
		// Keys are set but every one is read-only: the surface must not fall open (it would take
		// anonymous deletions, and with keys set the Host check is off). It needs a key that
		// may write, or the Sophon token.
		sophonSurface.Closed = "the Sophon surface takes a key that may write, or ERASURE_SOPHON_TOKEN: every key in ERASURE_API_KEYS is read-only"
	case sophonSurface.Keys == nil && exposed:
		// Unreachable through serve (CheckServe wants keys there), kept for a Handler served so.
		sophonSurface.Closed = "the Sophon surface is off on an address other machines can reach until ERASURE_SOPHON_TOKEN or ERASURE_API_KEYS is set"
	}
	// /metrics and /openapi.json hold no personal data: open unless the operator closes them
	// (ERASURE_OPEN_ENDPOINTS), and then they take an API key as /v1 does.
	endpoint := func(name string) *httpx.Surface {
		if s.cfg.OpenEndpoint(name) {
			return open
		}
		return v1
	}
	metricsSurface, openAPISurface := endpoint(config.EndpointMetrics), endpoint(config.EndpointOpenAPI)
	// The Tencent signature is its authentication, and it covers the Host header: a rebinding page
	// can neither sign nor read an answer, so the surface takes any Host, and a client whose fixed
	// endpoint (iai.tencentcloudapi.com) an operator pointed here by DNS keeps working.
	tencentSurface := &httpx.Surface{Name: "tencent", AnyHost: true, Refuse: tencent.Refuse}
	surface := func(route string) *httpx.Surface {
		_, path, _ := strings.Cut(route, " ") // "METHOD /path", or "/path" for any method
		if path == "" {
			path = route
		}
		switch {
		case strings.HasPrefix(path, "/v1/"):
			return v1
		case strings.HasPrefix(path, console.Prefix):
			return consoleSurface
		case strings.HasPrefix(path, sophon.Prefix):
			return sophonSurface
		case path == "/{$}":
			return tencentSurface
		case path == "/healthz" || path == "/readyz":
			return probe
		case path == "/metrics":
			return metricsSurface
		case path == "/openapi.json":
			return openAPISurface
		}
		return open // no route at all (404)
	}
	// Without API keys the server answers to loopback names only (and those listed), so that a
	// page whose name an attacker rebinds to 127.0.0.1 is refused; with keys, a Host is no
	// credential, and any is answered unless the operator lists them.
	var hosts *httpx.Hosts
	if listed, _ := s.cfg.Hosts(); len(bearer) == 0 || len(listed) > 0 { // validated by Open
		hosts = httpx.NewHosts(listed...)
	}
	guard := httpx.Guard(httpx.GuardConfig{
		Surface: surface, Hosts: hosts, Rate: s.cfg.RateLimit, Burst: s.cfg.RateBurst,
		// On loopback, one address stands for every client of the machine: anonymous local
		// clients are not rate-limited, clients with an API key are (per key).
		ExemptLoopback: true,
		BodyTimeout:    s.cfg.BodyTimeout,
		Metrics:        s.Metrics,
	})
	return httpx.Middleware(s.logger, native.Panic, httpx.WithMetrics(s.Metrics), httpx.WithRoutes(mux))(guard(mux))
}

// httpServer returns the server for ln: the guarded handler, header and time bounds, and TLS
// when configured. It refuses a listener other machines can reach without API keys.
func (s *Service) httpServer(ln net.Listener) (*http.Server, error) {
	addr := ln.Addr().String()
	if err := s.cfg.CheckServe(addr); err != nil {
		return nil, err
	}
	exposed := !config.Loopback(addr)
	srv := &http.Server{
		Handler:           s.handler(exposed),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnContext:       httpx.ConnContext,                                     // the Tencent surface tells a client's own connection apart
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn), // TLS handshakes, bad requests
	}
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert / --tls-key: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if exposed && s.cfg.TLSCert == "" {
		s.logger.Warn("serving plain HTTP on an address other machines can reach: bearer keys cross the network in the clear; use --tls-cert/--tls-key or a TLS-terminating proxy",
			"http", addr)
	}
	return srv, nil
}
