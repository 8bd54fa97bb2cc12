package tencent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// SignatureMemory is how long a ledger must remember an accepted signature: a signature is
// accepted while its X-TC-Timestamp is within MaxClockSkew of the server's clock on either side,
// so it stays usable for up to 2 x MaxClockSkew after it is first seen; the minute more covers
// replicas whose clocks differ a little.
const SignatureMemory = 2*MaxClockSkew + time.Minute

// SignatureUse is the request a signature was first accepted for. The SDK signs only
// content-type, host and the body, so the action, the version, the path and (with
// UNSIGNED-PAYLOAD) the body are bound to the signature here instead.
type SignatureUse struct {
	Action  string `json:"action"`
	Version string `json:"version"`
	Method  string `json:"method"`
	Host    string `json:"host"`
	Path    string `json:"path"`
	// Params is the hex SHA-256 of the parameters: the body, or a GET's query.
	Params string `json:"params"`
	// AcceptedAt is when the signature was first accepted (the server's clock).
	AcceptedAt time.Time `json:"accepted_at"`
	// Conn names the connection it came over (the server's and the client's address): the SDK
	// sends a client's calls one after another over one kept-alive connection, which someone
	// who merely captured a request cannot send on.
	Conn string `json:"conn"`
}

// sameParams reports whether u and o carry the same parameters to the same place, whatever
// their action and version.
func (u SignatureUse) sameParams(o SignatureUse) bool {
	return u.Method == o.Method && u.Host == o.Host && u.Path == o.Path && u.Params == o.Params
}

// sameRequest reports whether u and o are the same request, whenever and however each came.
func (u SignatureUse) sameRequest(o SignatureUse) bool {
	u.AcceptedAt, o.AcceptedAt = time.Time{}, time.Time{}
	u.Conn, o.Conn = "", ""
	return u == o
}

// SignatureLedger remembers every accepted signature, with what it was accepted for, for at
// least SignatureMemory, and is shared by every replica that serves the same credential.
type SignatureLedger interface {
	// Remember records use as signature's first use unless the signature was recorded before.
	// It returns the first use, and whether it was recorded before (seen). Two replicas
	// remembering the same signature at once agree on one first use.
	Remember(ctx context.Context, signature []byte, use SignatureUse) (first SignatureUse, seen bool, err error)
}

// SignatureKey is the key a ledger files a signature under: its SHA-256 in hex (64 characters,
// a valid key in any store).
func SignatureKey(signature []byte) string {
	sum := sha256.Sum256(signature)
	return hex.EncodeToString(sum[:])
}

// memoryLedger is the ledger of a surface that serves alone (one process, no shared store).
type memoryLedger struct {
	mu    sync.Mutex
	now   func() time.Time
	uses  map[string]SignatureUse
	sweep time.Time
}

var _ SignatureLedger = (*memoryLedger)(nil)

func newMemoryLedger(now func() time.Time) *memoryLedger {
	return &memoryLedger{now: now, uses: map[string]SignatureUse{}}
}

func (l *memoryLedger) Remember(_ context.Context, signature []byte, use SignatureUse) (SignatureUse, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	// Forget expired signatures at most once per memory period: the map holds at most the
	// signatures accepted over two periods.
	if now.Sub(l.sweep) > SignatureMemory {
		for k, u := range l.uses {
			if now.Sub(u.AcceptedAt) > SignatureMemory {
				delete(l.uses, k)
			}
		}
		l.sweep = now
	}
	key := SignatureKey(signature)
	if first, ok := l.uses[key]; ok && now.Sub(first.AcceptedAt) <= SignatureMemory {
		return first, true, nil
	}
	l.uses[key] = use
	return use, false, nil
}
