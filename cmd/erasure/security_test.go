package main

import (
	"strings"
	"testing"
)

// TestServeRefusesExposedAddressWithoutKeys: on an address other machines can reach, serve
// refuses to start without API keys, before it opens anything, saying what to set.
func TestServeRefusesExposedAddressWithoutKeys(t *testing.T) {
	dir := t.TempDir()
	r := runCmd(t, childEnv(), "serve", "--data", dir, "--http", "0.0.0.0:0")
	if r.code != 2 || !strings.Contains(r.stderr, "ERASURE_API_KEYS") {
		t.Fatalf("serve on 0.0.0.0 without keys: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = runCmd(t, childEnv("ERASURE_API_KEYS=ops:short"), "serve", "--data", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "shorter than 16") {
		t.Fatalf("serve with a short key: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = runCmd(t, childEnv(), "serve", "--data", dir, "--tls-cert", "cert.pem")
	if r.code != 2 || !strings.Contains(r.stderr, "--tls-key") {
		t.Fatalf("serve with a certificate and no key: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestServeWithAPIKeys starts a real server with keys: /v1 needs one, the CLI sends
// ERASURE_API_KEY, and /healthz stays open.
func TestServeWithAPIKeys(t *testing.T) {
	const key = "0123456789abcdef-test"
	s := startServer(t, t.TempDir(), childEnv("ERASURE_API_KEYS=ops:"+key))
	r := runCmd(t, childEnv("ERASURE_SERVER="+s.base), "status", "nope")
	if r.code != 2 || !strings.Contains(r.stderr, "UNAUTHENTICATED") {
		t.Fatalf("status without a key: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = runCmd(t, childEnv("ERASURE_SERVER="+s.base, "ERASURE_API_KEY="+key), "status", "nope")
	if r.code != 2 || !strings.Contains(r.stderr, "NOT_FOUND") {
		t.Fatalf("status with the key: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
