package config

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults of the request limits.
const (
	DefaultRateLimit = 1000 // requests per second per client
	DefaultRateBurst = 2000
	DefaultMaxBulk   = 4
	// MinAPIKeyLength keeps guessable keys out: a bearer key is the only thing between the
	// network and /v1.
	MinAPIKeyLength = 16
	// DefaultBodyTimeout is long enough for a client on the slowest mobile link to send its next
	// packet, short enough that a client that stopped sending frees its slot soon.
	DefaultBodyTimeout = 10 * time.Second
	// DefaultOpenEndpoints hold no personal data (IDs never appear in metrics labels).
	DefaultOpenEndpoints = EndpointMetrics + "," + EndpointOpenAPI
)

// The endpoints ERASURE_OPEN_ENDPOINTS can open.
const (
	EndpointMetrics = "metrics" // GET /metrics
	EndpointOpenAPI = "openapi" // GET /openapi.json
)

// APIKey is one named bearer key of ERASURE_API_KEYS.
type APIKey struct {
	Name, Key string
	// ReadOnly keys ("name:key:read") read everything and change nothing: every surface refuses
	// their state-changing requests, and the console shows them no form that changes state.
	ReadOnly bool
}

// Scopes of an API key, the optional third field of a name:key:scope entry.
const (
	ScopeRead  = "read"  // reads only
	ScopeWrite = "write" // reads and changes (the default)
)

// DefaultConsoleSession is how long a console login lasts: a working day, after which the
// operator types the key again.
const DefaultConsoleSession = 8 * time.Hour

var keyName = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

// SophonActor is the name ERASURE_SOPHON_TOKEN's requests record as their actor and are
// counted under (as an API key's name is): no API key may take it, or the audit trail could not
// tell the two apart and they would share one rate bucket.
const SophonActor = "sophon-api"

func (c *Config) securityFromEnv() {
	c.APIKeys = os.Getenv("ERASURE_API_KEYS")
	c.SophonToken = os.Getenv("ERASURE_SOPHON_TOKEN")
	c.TLSCert, c.TLSKey = os.Getenv("ERASURE_TLS_CERT"), os.Getenv("ERASURE_TLS_KEY")
	c.OpenEndpoints = env("ERASURE_OPEN_ENDPOINTS", DefaultOpenEndpoints)
	c.AllowedHosts = os.Getenv("ERASURE_ALLOWED_HOSTS")
	c.ConsoleSession = DefaultConsoleSession
	if v := strings.TrimSpace(os.Getenv("ERASURE_CONSOLE_SESSION")); v != "" {
		c.ConsoleSession = -1 // kept invalid so that Validate names it
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			c.ConsoleSession = cmp.Or(d, DefaultConsoleSession)
		}
	}
	c.BodyTimeout = DefaultBodyTimeout
	if v := strings.TrimSpace(os.Getenv("ERASURE_BODY_TIMEOUT")); v != "" {
		c.BodyTimeout = -1 // kept invalid so that Validate names it
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			c.BodyTimeout = cmp.Or(d, DefaultBodyTimeout) // 0 means the default, as for the others
		}
	}
	c.RateLimit, c.RateBurst, c.MaxBulk = DefaultRateLimit, DefaultRateBurst, DefaultMaxBulk
	// Unparsable values are kept as invalid (NaN, -1) so that Validate names them; 0 means the
	// default.
	if v := strings.TrimSpace(os.Getenv("ERASURE_RATE_LIMIT")); v != "" {
		c.RateLimit = math.NaN()
		if v == "off" {
			c.RateLimit = -1
		} else if f, err := strconv.ParseFloat(v, 64); err == nil {
			c.RateLimit = f
		}
	}
	for _, n := range []struct {
		name string
		dst  *int
	}{{"ERASURE_RATE_BURST", &c.RateBurst}, {"ERASURE_MAX_BULK", &c.MaxBulk}, {"ERASURE_MAX_PENDING", &c.MaxPending}} {
		if v := os.Getenv(n.name); v != "" {
			*n.dst = -1
			if i, err := strconv.Atoi(v); err == nil {
				*n.dst = i
			}
		}
	}
}

// Keys parses APIKeys: "name:key" or "name:key:scope" entries separated by commas, names
// unique; the scope is read or write (the default). A key is everything between the first
// colon and a final ":read" or ":write", so a key that itself ends so needs its scope written
// out ("name:abc:read:write").
func (c *Config) Keys() ([]APIKey, error) {
	var keys []APIKey
	seen := map[string]bool{}
	for _, pair := range strings.Split(c.APIKeys, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, key, ok := strings.Cut(pair, ":")
		scope := ScopeWrite
		if i := strings.LastIndex(key, ":"); i >= 0 {
			switch s := strings.TrimSpace(key[i+1:]); s {
			case ScopeRead, ScopeWrite:
				key, scope = key[:i], s
			}
		}
		name, key = strings.TrimSpace(name), strings.TrimSpace(key)
		switch {
		case !ok || key == "":
			return nil, fmt.Errorf("ERASURE_API_KEYS must be name:key or name:key:read entries separated by commas, such as ops:3f9c…,auditor:8a1e…:read")
		case !keyName.MatchString(name):
			return nil, fmt.Errorf("ERASURE_API_KEYS: key name %q must be 1-64 letters, digits, _ . @ -", name)
		case seen[name]:
			return nil, fmt.Errorf("ERASURE_API_KEYS: the name %q is given twice", name)
		case name == SophonActor:
			return nil, fmt.Errorf("ERASURE_API_KEYS: the name %q is what requests with ERASURE_SOPHON_TOKEN record as their actor; give the key another name", name)
		case len(key) < MinAPIKeyLength:
			return nil, fmt.Errorf("ERASURE_API_KEYS: the key of %q is shorter than %d characters (make one with: openssl rand -hex 32)", name, MinAPIKeyLength)
		}
		seen[name] = true
		keys = append(keys, APIKey{Name: name, Key: key, ReadOnly: scope == ScopeRead})
	}
	return keys, nil
}

func (c *Config) validateSecurity() error {
	if _, err := c.Keys(); err != nil {
		return err
	}
	if c.SophonToken != "" && len(c.SophonToken) < MinAPIKeyLength {
		return fmt.Errorf("ERASURE_SOPHON_TOKEN must be at least %d characters (make one with: openssl rand -hex 32)", MinAPIKeyLength)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("set both --tls-cert and --tls-key (ERASURE_TLS_CERT, ERASURE_TLS_KEY), or neither")
	}
	if math.IsNaN(c.RateLimit) || c.RateLimit > 1e9 {
		return fmt.Errorf(`ERASURE_RATE_LIMIT must be requests per second per client, such as 1000, or "off" (0 means the default, 1000)`)
	}
	if c.RateBurst < 0 || c.RateBurst > 1e9 {
		return fmt.Errorf("ERASURE_RATE_BURST must be a whole number of requests, such as 2000 (0 means the default, 2000)")
	}
	if c.MaxPending < 0 {
		return fmt.Errorf("ERASURE_MAX_PENDING must be a whole number of items, such as 2000000 (0 means the default)")
	}
	if c.MaxBulk < 0 || c.MaxBulk > 1000 {
		return fmt.Errorf("ERASURE_MAX_BULK must be a whole number of concurrent bulk deletion requests up to 1000, such as 4 (0 means the default, 4)")
	}
	if _, err := c.openEndpoints(); err != nil {
		return err
	}
	if _, err := c.Hosts(); err != nil {
		return err
	}
	if c.ConsoleSession < 0 || c.ConsoleSession > 0 && c.ConsoleSession < time.Minute || c.ConsoleSession > 30*24*time.Hour {
		return fmt.Errorf("ERASURE_CONSOLE_SESSION must be a duration from 1m to 720h, such as 8h (0 means the default, 8h)")
	}
	if c.BodyTimeout < 0 || c.BodyTimeout > 10*time.Minute {
		return fmt.Errorf("ERASURE_BODY_TIMEOUT must be a duration of at most 10m, such as 10s (0 means the default, 10s)")
	}
	return nil
}

// openEndpoints parses OpenEndpoints; empty means the default.
func (c *Config) openEndpoints() (map[string]bool, error) {
	v := strings.TrimSpace(c.OpenEndpoints)
	if v == "" {
		v = DefaultOpenEndpoints
	}
	open := map[string]bool{}
	if v == "none" {
		return open, nil
	}
	for _, name := range strings.Split(v, ",") {
		switch name = strings.TrimSpace(name); name {
		case EndpointMetrics, EndpointOpenAPI:
			open[name] = true
		case "":
		default:
			return nil, fmt.Errorf("ERASURE_OPEN_ENDPOINTS must list %s and %s separated by commas, or be none; %q is not one of them",
				EndpointMetrics, EndpointOpenAPI, name)
		}
	}
	return open, nil
}

// OpenEndpoint reports whether the endpoint (EndpointMetrics, EndpointOpenAPI) answers without an
// API key.
func (c *Config) OpenEndpoint(name string) bool {
	open, _ := c.openEndpoints() // validated at start
	return open[name]
}

var hostLabel = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$`)

// Hosts parses AllowedHosts: each a DNS name or an IP address (IPv6 in brackets), optionally
// with a port, lowercased (an IPv6 address in its canonical form).
func (c *Config) Hosts() ([]string, error) {
	var hosts []string
	for _, entry := range strings.Split(c.AllowedHosts, ",") {
		entry = strings.ToLower(strings.TrimSpace(entry))
		if entry == "" {
			continue
		}
		host, port, err := splitHost(entry)
		if err != nil {
			return nil, fmt.Errorf("ERASURE_ALLOWED_HOSTS: %q %v; give host names as a browser sends them in the Host header, "+
				"such as erasure.internal or erasure.internal:8443, separated by commas", entry, err)
		}
		if port != "" {
			host = net.JoinHostPort(strings.Trim(host, "[]"), port)
		}
		hosts = append(hosts, host)
	}
	return hosts, nil
}

// splitHost splits a host[:port] entry and checks both parts; an IPv6 host keeps its brackets.
func splitHost(entry string) (host, port string, err error) {
	host = entry
	if strings.HasPrefix(entry, "[") && !strings.HasSuffix(entry, "]") || !strings.HasPrefix(entry, "[") && strings.Contains(entry, ":") {
		if host, port, err = net.SplitHostPort(entry); err != nil {
			return "", "", fmt.Errorf("is not host or host:port (write an IPv6 address in brackets)")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("has a port that is not a number from 1 to 65535")
		}
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if ip.Is6() {
			return "[" + ip.String() + "]", port, nil
		}
		return ip.String(), port, nil
	}
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 {
		return "", "", fmt.Errorf("is not a host name")
	}
	for _, label := range strings.Split(name, ".") {
		if !hostLabel.MatchString(label) {
			return "", "", fmt.Errorf("is not a host name (letters, digits, - and _ between dots; no scheme, path or wildcard)")
		}
	}
	return name, port, nil
}

// Loopback reports whether addr (host:port, as --http takes it) binds only loopback addresses:
// 127.0.0.0/8, ::1 or localhost. An empty host binds every interface.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckServe checks what `serve` needs beyond Validate before it opens anything: a listener on
// addr other than loopback requires API keys, and the TLS files must load.
func (c *Config) CheckServe(addr string) error {
	keys, err := c.Keys()
	if err != nil {
		return err
	}
	if len(keys) == 0 && !Loopback(addr) {
		return fmt.Errorf("--http %s is reachable from other machines, and /v1 would be open to them: "+
			"set ERASURE_API_KEYS (name:key pairs, such as ops:$(openssl rand -hex 32)) so that /v1 requires bearer keys, "+
			"or listen on 127.0.0.1", addr)
	}
	if c.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			return fmt.Errorf("--tls-cert %s / --tls-key %s: %w", c.TLSCert, c.TLSKey, err)
		}
	}
	return nil
}
