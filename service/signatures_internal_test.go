package service

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/api/tencent"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
)

// TestSignatureLedgerReplicas: two replicas' ledgers on one JetStream, remembering the same
// signatures at once, agree on one first use of each; a later call sees it from either.
func TestSignatureLedgerReplicas(t *testing.T) {
	srv := jstest.Start(t, jstest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ledgers []signatureLedger
	for _, name := range []string{"replica-1", "replica-2"} {
		l, err := openSignatureLedger(ctx, srv.JetStream(name), 1)
		require.NoError(t, err)
		ledgers = append(ledgers, l)
	}
	at := time.Now().UTC()
	for sig := range 20 {
		signature := []byte{byte(sig), 1, 2, 3}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var fresh int
		firsts := map[string]bool{}
		for i := range 8 {
			wg.Go(func() {
				use := tencent.SignatureUse{Action: "GetGroupList", Host: "h", Path: "/", Params: string(rune('a' + i)), AcceptedAt: at}
				first, seen, err := ledgers[i%2].Remember(ctx, signature, use)
				require.NoError(t, err)
				mu.Lock()
				defer mu.Unlock()
				if !seen {
					fresh++
				}
				firsts[first.Params] = true
			})
		}
		wg.Wait()
		require.Equal(t, 1, fresh, "exactly one call is the signature's first use")
		require.Len(t, firsts, 1, "every call agrees on the first use")
	}
	// The entries expire with the signatures, not before.
	st, err := ledgers[0].kv.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, tencent.SignatureMemory, st.TTL())
	require.EqualValues(t, 20, st.Values())
}
