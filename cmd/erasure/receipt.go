package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/receipts"
)

const receiptUsage = `Usage: erasure receipt verify FILE [--public-key K]
       erasure receipt get PERSON_ID [--deletion ID] [--server URL] [--api-key KEY]
       erasure receipt public-key [--server URL] [--api-key KEY]

verify checks a signed deletion receipt offline; get prints a person's signed receipt as the
server signs it; public-key prints the server's receipt-signing key.
Run 'erasure receipt SUBCOMMAND --help' for a subcommand's flags.

Exit codes: 0 success; 1 (verify) the receipt does not verify against the trusted key, or was
altered; 2 a usage error (a bad flag, a missing argument) or the command could not run (e.g. the
file unreadable, the server unreachable or refusing the request).
`

// receiptHelp is the head of each subcommand's --help.
var receiptHelp = map[string]string{
	"verify": `Usage: erasure receipt verify FILE [--public-key K]

Checks a signed deletion receipt offline: the file must be byte for byte as signed, the Ed25519
signature valid, and the signing key the trusted one given with --public-key (base64, or a file
holding it, or the JSON of GET /v1/receipts/public-key). Exit 1 otherwise: without --public-key a
receipt is never valid, since anyone can re-sign an edited one with a key of their own
("signature_valid" still tells whether it matches the key the file names).`,
	"get": `Usage: erasure receipt get PERSON_ID [--deletion ID] [--server URL] [--api-key KEY]

Prints a person's signed deletion receipt exactly as the server signed it (keep the bytes: verify
checks them).`,
	"public-key": `Usage: erasure receipt public-key [--server URL] [--api-key KEY]

Prints the server's receipt-signing public key as JSON: the trusted key for
'erasure receipt verify --public-key'.`,
}

func receiptCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, receiptUsage)
		if len(args) == 0 {
			return errors.New("name a subcommand: verify, get or public-key")
		}
		return flag.ErrHelp
	}
	head, ok := receiptHelp[args[0]]
	if !ok {
		fmt.Fprint(stderr, receiptUsage)
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("erasure receipt "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	setUsage(fs, "receipt "+args[0], head)
	if args[0] == "verify" {
		key := fs.String("public-key", "", "trusted public key: base64, a file holding it, or the JSON of GET /v1/receipts/public-key")
		pos, err := parseInterspersed(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			fs.Usage()
			return errors.New("name one receipt file")
		}
		return receiptVerify(pos[0], *key, stdout)
	}
	newClient := serverFlags(fs)
	var deletion *string
	if args[0] == "get" {
		deletion = fs.String("deletion", "", "the deletion request (default: the person's last completed deletion)")
	}
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	c := newClient(time.Minute)
	if args[0] == "public-key" {
		if len(pos) != 0 {
			fs.Usage()
			return fmt.Errorf("unexpected arguments: %v", pos)
		}
		var out map[string]string
		if err := c.do(context.Background(), http.MethodGet, "/v1/receipts/public-key", "", nil, &out); err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("name one person id")
	}
	path := "/v1/receipts/" + url.PathEscape(pos[0])
	if *deletion != "" {
		path += "?deletion_id=" + url.QueryEscape(*deletion)
	}
	var raw json.RawMessage
	if err := c.do(context.Background(), http.MethodGet, path, "", nil, &raw); err != nil {
		return err
	}
	// Written as received: re-encoding would change the bytes that were signed.
	_, err = stdout.Write(append(raw, '\n'))
	return err
}

// errUntrusted is verify's "no" for a receipt whose signature holds for the key the file names
// but that no trusted key vouches for: anyone can edit a receipt, re-sign it with a key of their
// own and put that key in the file, so such a signature proves integrity, not origin.
var errUntrusted = errors.New("the receipt is not signed by a trusted key")

func receiptVerify(path, key string, stdout io.Writer) error {
	file, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var trusted ed25519.PublicKey
	if key != "" {
		if trusted, err = readPublicKey(key); err != nil {
			return fmt.Errorf("--public-key: %w", err)
		}
	}
	// First against the key the file names: an altered file or a broken signature is a "no"
	// whatever key is trusted.
	rc, err := receipts.Verify(file, nil)
	if err != nil {
		return no(err)
	}
	var env struct {
		PublicKey string `json:"public_key"`
	}
	_ = json.Unmarshal(file, &env)
	pub, _ := receipts.ParsePublicKey(env.PublicKey)
	out := map[string]any{"valid": false, "signature_valid": true, "trusted_key": false, "person_id": rc.PersonID,
		"deletion_id": rc.DeletionID, "requested_at": rc.RequestedAt, "completed_at": rc.CompletedAt, "key_id": receipts.KeyID(pub)}
	var reason string
	switch {
	case trusted == nil:
		reason = "no trusted key given: pass the server's public key with --public-key (print it with `erasure receipt public-key --server URL`, or GET /v1/receipts/public-key)"
	default:
		_, err := receipts.Verify(file, trusted)
		switch {
		case errors.Is(err, receipts.ErrUntrustedKey):
			reason = fmt.Sprintf("signed by key %s, not by the trusted key %s given with --public-key", receipts.KeyID(pub), receipts.KeyID(trusted))
		case err != nil:
			return no(err)
		default:
			out["valid"], out["trusted_key"] = true, true
		}
	}
	if reason != "" {
		out["reason"] = reason
	}
	if err := json.NewEncoder(stdout).Encode(out); err != nil {
		return err
	}
	if reason != "" {
		return no(fmt.Errorf("%w: %s", errUntrusted, reason))
	}
	return nil
}

// readPublicKey accepts a key in base64, a file holding one, or the JSON answer of
// GET /v1/receipts/public-key (inline or in a file).
func readPublicKey(s string) (ed25519.PublicKey, error) {
	if b, err := os.ReadFile(s); err == nil {
		s = string(b)
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		var v struct {
			PublicKey string `json:"public_key"`
		}
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, err
		}
		s = v.PublicKey
	}
	return receipts.ParsePublicKey(s)
}
