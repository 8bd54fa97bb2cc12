package httpx

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Errors of the browser checks, mapped by every surface's error table.
var (
	// ErrHostNotAllowed means the Host header names a server other than this one: a web page
	// whose name was rebound to this server's address (DNS rebinding) sends its own name.
	ErrHostNotAllowed = errors.New("host not allowed")
	// ErrCrossSite means a browser marked a state-changing request as sent by another site.
	ErrCrossSite = errors.New("cross-site request refused")
)

// Hosts are the names the server answers to in the Host header: loopback names and addresses,
// and the names an operator lists. A DNS-rebinding page reaches the server under the page's own
// name, which it cannot make a loopback one: browsers resolve localhost and *.localhost
// themselves (RFC 6761 §6.3), never through the attacker's DNS.
type Hosts struct {
	names map[string]bool // "host" (any port) or "host:port", lowercased; IPv6 in brackets
}

// NewHosts returns the check that allows loopback names and addresses and the listed names, each
// "host" (any port) or "host:port" as config.Hosts normalizes them.
func NewHosts(listed ...string) *Hosts {
	h := &Hosts{names: map[string]bool{}}
	for _, name := range listed {
		h.names[strings.ToLower(name)] = true
	}
	return h
}

// Allow reports whether host, a request's Host header, names this server.
func (h *Hosts) Allow(host string) bool {
	if host == "" {
		// Only an HTTP/1.0 client may leave it out, and no browser does: nothing to rebind.
		return true
	}
	host = strings.ToLower(host)
	name, port, err := net.SplitHostPort(host)
	if err != nil {
		name, port = strings.Trim(host, "[]"), ""
	}
	name = strings.TrimSuffix(name, ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	if addr, err := netip.ParseAddr(name); err == nil {
		if addr.Unmap().IsLoopback() {
			return true
		}
		if addr.Is6() && !addr.Is4In6() {
			name = "[" + addr.String() + "]"
		} else {
			name = addr.Unmap().String()
		}
	}
	return h.names[name] || port != "" && h.names[name+":"+port]
}

// crossOrigin refuses what a browser marks as cross-site (Sec-Fetch-Site), or, from a browser
// too old to send that, a request whose Origin is not the Host it was sent to. Safe methods
// (GET, HEAD, OPTIONS) and clients that send neither header (curl, SDKs) pass.
var crossOrigin = http.NewCrossOriginProtection()

// crossSite returns ErrCrossSite for a state-changing request a browser sent from another site.
// A form or a fetch with a text/plain body needs no CORS preflight, so without this any page the
// operator visits could post deletions to a loopback server.
func crossSite(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	// A sandboxed frame, a data: URL or a redirect across sites sends "Origin: null": it names no
	// site, so it cannot be this one. CrossOriginProtection refuses it only when Host is set.
	if r.Header.Get("Origin") == "null" {
		return fmt.Errorf("%w: Origin is null (a sandboxed or opaque origin)", ErrCrossSite)
	}
	if err := crossOrigin.Check(r); err != nil {
		return fmt.Errorf("%w: %v (Sec-Fetch-Site %q, Origin %q, Host %q)", ErrCrossSite, err,
			r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Origin"), r.Host)
	}
	return nil
}
