package main

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/erasure-dev/erasure/receipts"
)

// A receipt is valid only when it is signed by a key the verifier trusts: anyone can re-sign an
// edited receipt with a key of their own and put that key in the file, so a signature checked
// against the key the file names proves nothing about who issued it. Without --public-key, or
// with another key than the signer's, verify answers "no" (exit 1) and never prints
// "valid":true; it still says whether the signature matches the key in the file.
func TestReceiptVerifyNeedsTheTrustedKey(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	server := receipts.NewSigner(ed25519.NewKeyFromSeed([]byte("server-server-server-server-0123")))
	forger := receipts.NewSigner(ed25519.NewKeyFromSeed([]byte("forger-forger-forger-forger-0123")))
	rc := receipts.Receipt{Version: receipts.Version, PersonID: "p1", DeletionID: "d1", RequestID: "r1",
		RequestedAt: "2026-01-02T03:04:05.000000Z", CompletedAt: "2026-01-02T03:04:06.000000Z",
		Steps:          []receipts.Step{{Step: receipts.StepRequested, Event: "PersonDeletionRequested.v1", At: "2026-01-02T03:04:05.000000Z", Seq: 7}},
		KeyDestruction: receipts.KeyDestruction{Destroyed: true, At: "2026-01-02T03:04:06.000000Z", Seq: 9, Method: "crypto-shred"},
		Stream:         "ERASURE"}
	write := func(name string, data []byte) string {
		path := filepath.Join(work, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	genuine := write("genuine.json", server.Sign(rc))
	forgedRC := rc
	forgedRC.CompletedAt = "2026-01-01T00:00:00.000000Z" // backdated, then re-signed
	forged := write("forged.json", forger.Sign(forgedRC))
	serverKey := receipts.EncodePublicKey(server.PublicKey())
	keyJSON := write("key.json", []byte(`{"public_key":"`+serverKey+`"}`+"\n"))
	env := childEnv()

	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		valid    bool
		sigValid bool
	}{
		{"genuine, the server's key", []string{genuine, "--public-key", serverKey}, 0, true, true},
		{"genuine, the server's key as GET /v1/receipts/public-key", []string{genuine, "--public-key", keyJSON}, 0, true, true},
		{"genuine, no key", []string{genuine}, 1, false, true},
		{"re-signed, no key", []string{forged}, 1, false, true},
		{"re-signed, the server's key", []string{forged, "--public-key", serverKey}, 1, false, true},
		{"re-signed, the forger's own key", []string{forged, "--public-key", receipts.EncodePublicKey(forger.PublicKey())}, 0, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCmd(t, env, append([]string{"receipt", "verify"}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			var out struct {
				Valid          *bool  `json:"valid"`
				SignatureValid *bool  `json:"signature_valid"`
				TrustedKey     *bool  `json:"trusted_key"`
				PersonID       string `json:"person_id"`
				KeyID          string `json:"key_id"`
				Reason         string `json:"reason"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Valid == nil || out.SignatureValid == nil || out.TrustedKey == nil {
				t.Fatalf("not one JSON line with valid, signature_valid and trusted_key (%v):\n%s", err, r.stdout)
			}
			if *out.Valid != tc.valid || *out.SignatureValid != tc.sigValid || *out.TrustedKey != tc.valid || out.PersonID != "p1" || out.KeyID == "" {
				t.Fatalf("answer: %s", r.stdout)
			}
			if !tc.valid && (strings.Contains(r.stdout, `"valid":true`) || !strings.Contains(out.Reason, "--public-key")) {
				t.Fatalf("an untrusted receipt must say why and how to pass the key: %s", r.stdout)
			}
		})
	}
}
