package config

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestKeys(t *testing.T) {
	c := Config{APIKeys: " ops:0123456789abcdef , ci.bot:fedcba9876543210fedcba ,"}
	keys, err := c.Keys()
	require.NoError(t, err)
	require.Equal(t, []APIKey{{Name: "ops", Key: "0123456789abcdef"}, {Name: "ci.bot", Key: "fedcba9876543210fedcba"}}, keys)

	// A third field scopes a key; a key whose own text holds a colon keeps it.
	for in, want := range map[string]APIKey{
		"auditor:0123456789abcdef:read":   {Name: "auditor", Key: "0123456789abcdef", ReadOnly: true},
		"ops:0123456789abcdef:write":      {Name: "ops", Key: "0123456789abcdef"},
		"ops:0123:456789abcdef":           {Name: "ops", Key: "0123:456789abcdef"},
		"ops:0123456789abcdef:read:write": {Name: "ops", Key: "0123456789abcdef:read"},
	} {
		keys, err := (&Config{APIKeys: in}).Keys()
		require.NoError(t, err, in)
		require.Equal(t, []APIKey{want}, keys, in)
	}

	for in, want := range map[string]string{
		"justakey0123456789":  "name:key or name:key:read",
		"ops::read":           "name:key or name:key:read",
		"ops:0123456789:read": "shorter than 16",
		"ops:short":           "shorter than 16",
		"ops:0123456789abcdef,ops:abcdef0123456789": "given twice",
		"o p:0123456789abcdef":                      "key name",
		":0123456789abcdef":                         "key name",
		"sophon-api:0123456789abcdef":               "ERASURE_SOPHON_TOKEN",
	} {
		_, err := (&Config{APIKeys: in}).Keys()
		require.ErrorContains(t, err, want, in)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.9.9.9:1": true, "[::1]:8080": true, "localhost:8080": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "192.168.1.5:8080": false, "example.com:80": false,
	} {
		require.Equal(t, want, Loopback(addr), addr)
	}
}

func TestCheckServe(t *testing.T) {
	c := FromEnv()
	c.APIKeys = ""
	require.NoError(t, c.CheckServe("127.0.0.1:8080"))
	require.ErrorContains(t, c.CheckServe("0.0.0.0:8080"), "ERASURE_API_KEYS")
	c.APIKeys = "ops:0123456789abcdef"
	require.NoError(t, c.CheckServe("0.0.0.0:8080"))
	c.TLSCert, c.TLSKey = "/nonexistent/cert.pem", "/nonexistent/key.pem"
	require.ErrorContains(t, c.CheckServe("0.0.0.0:8080"), "--tls-cert")
}

func TestSecurityFromEnv(t *testing.T) {
	t.Setenv("ERASURE_RATE_LIMIT", "off")
	t.Setenv("ERASURE_RATE_BURST", "")
	t.Setenv("ERASURE_MAX_BULK", "8")
	c := FromEnv()
	require.NoError(t, c.Validate())
	require.Negative(t, c.RateLimit)
	require.Equal(t, DefaultRateBurst, c.RateBurst)
	require.Equal(t, 8, c.MaxBulk)

	t.Setenv("ERASURE_RATE_LIMIT", "fast")
	c = FromEnv()
	require.True(t, math.IsNaN(c.RateLimit))
	require.ErrorContains(t, c.Validate(), "ERASURE_RATE_LIMIT")
	t.Setenv("ERASURE_RATE_LIMIT", "")
	t.Setenv("ERASURE_MAX_BULK", "many")
	require.ErrorContains(t, validateEnv(), "ERASURE_MAX_BULK")
	t.Setenv("ERASURE_MAX_BULK", "")
	t.Setenv("ERASURE_TLS_CERT", "cert.pem")
	require.ErrorContains(t, validateEnv(), "--tls-key")
	t.Setenv("ERASURE_TLS_CERT", "")
	t.Setenv("ERASURE_SOPHON_TOKEN", "short")
	require.ErrorContains(t, validateEnv(), "ERASURE_SOPHON_TOKEN")
}

func validateEnv() error {
	c := FromEnv()
	return c.Validate()
}

func TestOpenEndpoints(t *testing.T) {
	for _, tt := range []struct {
		env           string
		metrics, spec bool
		err           string
	}{
		{env: "", metrics: true, spec: true},
		{env: "metrics,openapi", metrics: true, spec: true},
		{env: " metrics ", metrics: true},
		{env: "openapi", spec: true},
		{env: "none"},
		{env: "metrics,healthz", err: "ERASURE_OPEN_ENDPOINTS"},
		{env: "none,metrics", err: "ERASURE_OPEN_ENDPOINTS"},
	} {
		t.Setenv("ERASURE_OPEN_ENDPOINTS", tt.env)
		c := FromEnv()
		if tt.err != "" {
			require.ErrorContains(t, c.Validate(), tt.err, tt.env)
			continue
		}
		require.NoError(t, c.Validate(), tt.env)
		require.Equal(t, tt.metrics, c.OpenEndpoint(EndpointMetrics), tt.env)
		require.Equal(t, tt.spec, c.OpenEndpoint(EndpointOpenAPI), tt.env)
	}
	// A configuration built without the environment opens both, as the default does.
	require.True(t, (&Config{}).OpenEndpoint(EndpointMetrics))
}

func TestAllowedHosts(t *testing.T) {
	c := Config{AllowedHosts: " Erasure.Internal , erasure:8080,[fd00::1]:8443,10.0.0.7,"}
	hosts, err := c.Hosts()
	require.NoError(t, err)
	require.Equal(t, []string{"erasure.internal", "erasure:8080", "[fd00::1]:8443", "10.0.0.7"}, hosts)
	for _, in := range []string{"http://erasure.internal", "erasure.internal/ui", "erasure:port", "erasure:0", "*.example.com", "a b", "erasure:99999"} {
		_, err := (&Config{AllowedHosts: in}).Hosts()
		require.ErrorContains(t, err, "ERASURE_ALLOWED_HOSTS", in)
		c := FromEnv()
		c.AllowedHosts = in
		require.ErrorContains(t, c.Validate(), "ERASURE_ALLOWED_HOSTS", in)
	}
}

func TestBodyTimeout(t *testing.T) {
	t.Setenv("ERASURE_BODY_TIMEOUT", "")
	require.Equal(t, DefaultBodyTimeout, FromEnv().BodyTimeout)
	t.Setenv("ERASURE_BODY_TIMEOUT", "30s")
	require.Equal(t, 30*time.Second, FromEnv().BodyTimeout)
	for _, zero := range []string{"0", "0s"} { // 0 means the default, as the error says
		t.Setenv("ERASURE_BODY_TIMEOUT", zero)
		c := FromEnv()
		require.NoError(t, c.Validate(), zero)
		require.Equal(t, DefaultBodyTimeout, c.BodyTimeout, zero)
	}
	for _, bad := range []string{"soon", "-1s", "2h"} {
		t.Setenv("ERASURE_BODY_TIMEOUT", bad)
		require.ErrorContains(t, validateEnv(), "ERASURE_BODY_TIMEOUT", bad)
	}
}

func TestConsoleSession(t *testing.T) {
	t.Setenv("ERASURE_CONSOLE_SESSION", "")
	require.Equal(t, DefaultConsoleSession, FromEnv().ConsoleSession)
	t.Setenv("ERASURE_CONSOLE_SESSION", "30m")
	require.Equal(t, 30*time.Minute, FromEnv().ConsoleSession)
	t.Setenv("ERASURE_CONSOLE_SESSION", "0")
	require.Equal(t, DefaultConsoleSession, FromEnv().ConsoleSession, "0 means the default, as the error says")
	for _, bad := range []string{"a day", "-1h", "30s", "800h"} {
		t.Setenv("ERASURE_CONSOLE_SESSION", bad)
		require.ErrorContains(t, validateEnv(), "ERASURE_CONSOLE_SESSION", bad)
	}
}
