package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/erasure-dev/erasure/api/tencent"
	"github.com/erasure-dev/erasure/internal/storeerr"
)

// SignatureBucket is the JetStream key-value bucket where every replica files the Tencent
// signatures it accepted (key: the signature's SHA-256; value: the request it was first
// accepted for), so that a captured signature serves no other request on any replica.
const SignatureBucket = "erasure_tencent_signatures"

// ledgerTTL is how long an entry lives: by then the signature it names has expired too.
const ledgerTTL = tencent.SignatureMemory

// signatureLedger is tencent.SignatureLedger on the key-value bucket. Create is atomic across
// replicas (an append expecting the key's subject to be empty), so two replicas accepting the
// same signature at once agree on its first use. Key-value buckets exist since nats-server 2.6.
type signatureLedger struct{ kv jetstream.KeyValue }

var _ tencent.SignatureLedger = signatureLedger{}

// openSignatureLedger creates the bucket or updates it to the configuration erasure needs.
// Entries expire after tencent.SignatureMemory: by then the signature has expired too.
//
// A cluster electing its JetStream leaders answers "temporarily unavailable" for a while (a
// replica starting as a node restarts): it waits for it, within a bound, as the log's Provision does.
func openSignatureLedger(ctx context.Context, js jetstream.JetStream, replicas int) (l signatureLedger, err error) {
	err = storeerr.WaitUp(ctx, ledgerOpenWait, func() error {
		l, err = openSignatureLedgerOnce(ctx, js, replicas)
		return err
	})
	return l, err
}

// ledgerOpenWait bounds how long opening the ledger waits for a JetStream that is temporarily
// unavailable (eventlog.Store.Provision waits as long).
const ledgerOpenWait = 30 * time.Second

// openSignatureLedgerOnce is one attempt of openSignatureLedger.
func openSignatureLedgerOnce(ctx context.Context, js jetstream.JetStream, replicas int) (signatureLedger, error) {
	// A replica starting next to running ones finds the bucket as it needs it: updating it anyway
	// would race, inside nats-server, with the others' use of it (see eventlog.Store.Provision).
	if kv, err := js.KeyValue(ctx, SignatureBucket); err == nil {
		if st, err := kv.Status(ctx); err == nil && st.TTL() == ledgerTTL {
			return signatureLedger{kv: kv}, nil
		}
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      SignatureBucket,
		Description: "Tencent signatures erasure accepted, with the request each was first accepted for",
		History:     1,
		TTL:         ledgerTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return signatureLedger{}, fmt.Errorf("provision key-value bucket %s: %w", SignatureBucket, err)
	}
	return signatureLedger{kv: kv}, nil
}

// Remember implements tencent.SignatureLedger.
func (l signatureLedger) Remember(ctx context.Context, signature []byte, use tencent.SignatureUse) (tencent.SignatureUse, bool, error) {
	key := tencent.SignatureKey(signature)
	value, err := json.Marshal(use)
	if err != nil {
		return tencent.SignatureUse{}, false, err
	}
	// An entry can expire between a refused Create and the Get: then the signature is new again.
	for range 3 {
		_, err := l.kv.Create(ctx, key, value)
		if err == nil {
			return use, false, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return tencent.SignatureUse{}, false, fmt.Errorf("remember signature: %w", err)
		}
		entry, err := l.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return tencent.SignatureUse{}, false, fmt.Errorf("read signature's first use: %w", err)
		}
		var first tencent.SignatureUse
		if err := json.Unmarshal(entry.Value(), &first); err != nil {
			return tencent.SignatureUse{}, false, fmt.Errorf("signature's first use: %w", err)
		}
		return first, true, nil
	}
	return tencent.SignatureUse{}, false, fmt.Errorf("remember signature: the entry kept expiring")
}
