package httpx

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// ErrUnauthenticated means a surface that requires a bearer key got none, or one it does not know.
var ErrUnauthenticated = errors.New("authentication required")

// ErrReadOnly means a read-only key sent a state-changing request.
var ErrReadOnly = errors.New("the key is read-only")

// BearerKey is one named API key: Name becomes the actor of what the key's requests record.
type BearerKey struct {
	Name, Key string
	// ReadOnly keys may only read: the guard refuses their state-changing requests (ErrReadOnly).
	ReadOnly bool
}

// Keys checks bearer tokens against named keys. Every check hashes the token and compares it
// with every key's hash in constant time, so neither a key's length nor how much of a guess
// matches (nor which key matched) shows in the time an answer takes.
type Keys struct {
	names    []string
	readOnly []bool
	sums     [][sha256.Size]byte
}

// NewKeys returns the checker of keys, or nil when there are none (nothing is required).
func NewKeys(keys ...BearerKey) *Keys {
	if len(keys) == 0 {
		return nil
	}
	k := &Keys{}
	for _, key := range keys {
		k.names = append(k.names, key.Name)
		k.readOnly = append(k.readOnly, key.ReadOnly)
		k.sums = append(k.sums, sha256.Sum256([]byte(key.Key)))
	}
	return k
}

// Match returns the name of the key token is.
func (k *Keys) Match(token string) (string, bool) {
	name, _, ok := k.Lookup(token)
	return name, ok
}

// Lookup returns the name of the key token is, and whether that key is read-only.
func (k *Keys) Lookup(token string) (name string, readOnly, ok bool) {
	if k == nil {
		return "", false, false
	}
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range k.sums {
		if subtle.ConstantTimeCompare(sum[:], k.sums[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false, false
	}
	return k.names[found], k.readOnly[found], true
}

// Safe reports whether a request's method only reads (GET, HEAD, OPTIONS): what a read-only
// key may send.
func Safe(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// SetClient names the client of r in the access log and the rate limiter, for a surface that
// authenticates by other means than a bearer key (the console's session cookie).
func SetClient(r *http.Request, name string) {
	if st := state(r); st != nil {
		st.client = name
	}
}

// Client returns the name of the API key the request authenticated with, or "" (an open
// surface, or none required).
func Client(r *http.Request) string {
	if st := state(r); st != nil {
		return st.client
	}
	return ""
}
