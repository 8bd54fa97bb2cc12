package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Errors of a target URL.
var (
	// ErrInvalidURL means the URL is not an absolute http(s) URL of at most 2048 characters, or
	// its host does not resolve.
	ErrInvalidURL = errors.New("invalid webhook URL")
	// ErrURLNotAllowed means the URL reaches a loopback, link-local, private or otherwise
	// non-public address, and ERASURE_WEBHOOK_ALLOW_PRIVATE is not set.
	ErrURLNotAllowed = errors.New("webhook URL reaches a private address")
)

// nonPublic lists ranges beyond netip's own predicates (loopback, private, link-local,
// multicast, unspecified) that no receiver on the internet lives in. The IPv6 ranges that embed
// an IPv4 address are refused whole, not only when the embedded address is a refused one: a
// host, a relay or a translator turns them into that IPv4 address (::127.0.0.1 is loopback on
// some stacks), and no public receiver needs them (IPv4-mapped addresses are unmapped first and
// judged as the IPv4 address they are).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, often the provider's own hosts
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated), with :: and ::1
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may embed any IPv4, private ones included
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/32"),       // Teredo: embeds the client's IPv4 (obfuscated)
	netip.MustParsePrefix("2001:2::/48"),     // benchmarking
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: may embed any IPv4, private ones included
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
}

// publicAddr reports whether a receiver at addr is on the public internet.
func publicAddr(addr netip.Addr) bool {
	// A zone names the interface, not another address; netip.Prefix.Contains never matches a
	// zoned address, so ::127.0.0.1%eth0 would slip past the ranges below with it.
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// guard decides which addresses deliveries may reach.
type guard struct {
	allowPrivate bool
	resolver     *net.Resolver
}

// checkURL parses raw and, unless private targets are allowed, resolves its host and refuses it
// when any address it resolves to is not public.
func (g guard) checkURL(ctx context.Context, raw string) (*url.URL, error) {
	if len(raw) > maxURLLength {
		return nil, fmt.Errorf("%w: longer than %d characters", ErrInvalidURL, maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: %q must start with http:// or https://", ErrInvalidURL, raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: %q names no host", ErrInvalidURL, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the URL would be sent to the receiver in clear; use the signature instead", ErrInvalidURL)
	}
	if g.allowPrivate {
		return u, nil
	}
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); err == nil {
		if !publicAddr(addr) {
			return nil, fmt.Errorf("%w: %s (set ERASURE_WEBHOOK_ALLOW_PRIVATE=true to allow it)", ErrURLNotAllowed, addr)
		}
		return u, nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return nil, fmt.Errorf("%w: %s (set ERASURE_WEBHOOK_ALLOW_PRIVATE=true to allow it)", ErrURLNotAllowed, host)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r := g.resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("%w: host %s does not resolve: %v", ErrInvalidURL, host, err)
	}
	for _, a := range addrs {
		if !publicAddr(a) {
			return nil, fmt.Errorf("%w: %s resolves to %s (set ERASURE_WEBHOOK_ALLOW_PRIVATE=true to allow it)", ErrURLNotAllowed, host, a.Unmap())
		}
	}
	return u, nil
}

// control refuses a connection to a non-public address. The dialer calls it with the address
// it is about to connect to, after name resolution, so it holds against DNS rebinding: the
// name may resolve to anything by then, the socket only ever reaches a public address.
func (g guard) control(_, address string, _ syscall.RawConn) error {
	if g.allowPrivate {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrURLNotAllowed, address)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !publicAddr(addr) {
		return fmt.Errorf("%w: connecting to %s", ErrURLNotAllowed, host)
	}
	return nil
}
