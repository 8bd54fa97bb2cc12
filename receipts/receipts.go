// Package receipts builds and signs deletion receipts: the proof, for one person, that a deletion
// ran to its end (every step with its time and stream sequence, and the destruction of the
// person's data key), signed with Ed25519 so that anyone holding the public key can check it
// offline. A receipt is built from the person's events in the log, deterministically, so it is
// never stored: the same log gives the same bytes and, Ed25519 being deterministic, the same
// signature.
package receipts

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/erasure-dev/erasure/events"
)

// Errors callers branch on.
var (
	// ErrNoReceipt means the person has no completed deletion in the log (yet).
	ErrNoReceipt = errors.New("no completed deletion for this person")
	// ErrAltered means the file is not exactly the receipt that was signed.
	ErrAltered = errors.New("receipt was altered")
	// ErrBadSignature means the signature does not match the receipt and key.
	ErrBadSignature = errors.New("receipt signature is not valid")
	// ErrUntrustedKey means the receipt was signed with another key than the one given.
	ErrUntrustedKey = errors.New("receipt was signed with another key than the trusted one")
)

// Version is the receipt format's version.
const Version = 1

// TimeFormat is how receipts write times: UTC, fixed width.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Receipt is what a deletion receipt states. Field order and encoding are part of the format:
// the JSON encoding of this struct is the canonical form that is signed.
type Receipt struct {
	Version           int            `json:"receipt_version"`
	PersonID          string         `json:"person_id"`
	DeletionID        string         `json:"deletion_id"`
	JoinedDeletionIDs []string       `json:"joined_deletion_ids,omitempty"`
	RequestID         string         `json:"request_id"`
	RequestedAt       string         `json:"requested_at"`
	CompletedAt       string         `json:"completed_at"`
	Steps             []Step         `json:"steps"`
	KeyDestruction    KeyDestruction `json:"key_destruction"`
	Stream            string         `json:"stream"`
}

// Step is one recorded step of the deletion.
type Step struct {
	Step  string `json:"step"`
	Event string `json:"event"`
	At    string `json:"at"`
	Seq   uint64 `json:"seq"`
	// Count is how many items the step removed (permission groups, faces, photos).
	Count  *int   `json:"count,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// KeyDestruction records the crypto-shredding of the person's personal fields.
type KeyDestruction struct {
	Destroyed bool   `json:"destroyed"`
	At        string `json:"at"`
	Seq       uint64 `json:"seq"`
	Method    string `json:"method"`
}

// Step names of a receipt besides the saga's steps.
const (
	StepRequested = "requested"
	StepJoined    = "joined"
	StepFailed    = "failed"
	StepRetried   = "retried"
)

func count(n int) *int { return &n }

// Loader reads an aggregate's events from the log, oldest first: eventlog.Store's Load.
type Loader interface {
	Load(ctx context.Context, aggregate, id string) ([]events.Recorded, uint64, error)
}

// FromLog builds the receipt of the person's deletion deletionID (the last completed one when
// empty) from the log: the person's own subject, and the subjects of the batches that recorded
// the deletion's steps (docs/adr/0003).
func FromLog(ctx context.Context, log Loader, personID, deletionID, stream string) (Receipt, error) {
	history, _, err := log.Load(ctx, events.AggregatePerson, personID)
	if err != nil {
		return Receipt{}, err
	}
	var batches [][]events.Recorded
	for _, b := range BatchesOf(personID, deletionID, history) {
		h, _, err := log.Load(ctx, events.AggregateBatch, b)
		if err != nil {
			return Receipt{}, fmt.Errorf("batch %s: %w", b, err)
		}
		batches = append(batches, h)
	}
	return Build(personID, deletionID, stream, history, batches...)
}

// span finds the deletion a receipt covers in the person's history: the index of its
// PersonDeleted (the last one of deletionID, or the last one when empty) and of the request
// that started it.
func span(personID, deletionID string, history []events.Recorded) (start, end int, saga string, err error) {
	end = -1
	for i := len(history) - 1; i >= 0; i-- {
		if d, ok := history[i].Data.(events.PersonDeleted); ok && (deletionID == "" || d.DeletionID == deletionID) {
			end = i
			break
		}
	}
	if end < 0 {
		return 0, 0, "", fmt.Errorf("%s: %w", personID, ErrNoReceipt)
	}
	saga = history[end].Data.(events.PersonDeleted).DeletionID
	// The saga started with the person's last deletion request under this id before the end.
	start = -1
	for i := end - 1; i >= 0; i-- {
		if d, ok := history[i].Data.(events.PersonDeletionRequested); ok && d.DeletionID == saga && d.Joins == "" && d.ResumeAt == "" {
			start = i
			break
		}
	}
	if start < 0 {
		return 0, 0, "", fmt.Errorf("%s: deletion %s has no request in the log: %w", personID, saga, ErrNoReceipt)
	}
	return start, end, saga, nil
}

// BatchesOf returns the batches whose subjects recorded steps of the deletion a receipt of the
// person's history covers (see Build): those its requests (the start, a retry) name. None for
// a deletion that ran on the person's own subject, or for no completed deletion.
func BatchesOf(personID, deletionID string, history []events.Recorded) []string {
	start, end, saga, err := span(personID, deletionID, history)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range history[start : end+1] {
		if d, ok := r.Data.(events.PersonDeletionRequested); ok && d.DeletionID == saga && d.Batch != "" && !slices.Contains(out, d.Batch) {
			out = append(out, d.Batch)
		}
	}
	return out
}

// Build returns the receipt of the person's deletion deletionID (the last completed one when
// empty) from the person's history, oldest first, and the histories of the batches that
// recorded its steps (BatchesOf: a bulk deletion records each step once per batch, on the
// batch's subject). A batch's step is the person's step: its sequence and time, and the count
// of what it removed of this person. stream names the log.
func Build(personID, deletionID, stream string, history []events.Recorded, batches ...[]events.Recorded) (Receipt, error) {
	start, end, saga, err := span(personID, deletionID, history)
	if err != nil {
		return Receipt{}, err
	}
	done := history[end]
	at := func(r events.Recorded) string { return r.Time.UTC().Format(TimeFormat) }
	rc := Receipt{
		Version: Version, PersonID: personID, DeletionID: saga, RequestID: history[start].CorrelationID,
		RequestedAt: at(history[start]), CompletedAt: at(done), Stream: stream,
		KeyDestruction: KeyDestruction{Destroyed: true, At: at(done), Seq: done.Seq,
			Method: "the person's AES-256-GCM data key was deleted from the key store; every sealed personal field in the log is unreadable (crypto-shredding)"},
	}
	// The deletion's events: the person's own, and the steps its batches recorded in between.
	named := BatchesOf(personID, deletionID, history)
	evs := slices.Clone(history[start : end+1])
	for _, h := range batches {
		for _, r := range h {
			if r.Aggregate == events.AggregateBatch && slices.Contains(named, r.AggregateID) &&
				r.Seq > history[start].Seq && r.Seq < done.Seq && events.DeletionIDOf(r.Data) == saga {
				evs = append(evs, r)
			}
		}
	}
	slices.SortStableFunc(evs, func(a, b events.Recorded) int { return cmp.Compare(a.Seq, b.Seq) })
	step := func(r events.Recorded, name string, n *int, detail string) {
		rc.Steps = append(rc.Steps, Step{Step: name, Event: r.Type, At: at(r), Seq: r.Seq, Count: n, Detail: detail})
	}
	for _, r := range evs {
		switch d := r.Data.(type) {
		case events.PersonDeletionRequested:
			switch {
			case d.DeletionID == saga && d.Joins == "" && d.ResumeAt == "":
				step(r, StepRequested, nil, "")
			case d.Joins == saga:
				rc.JoinedDeletionIDs = append(rc.JoinedDeletionIDs, d.DeletionID)
				step(r, StepJoined, nil, "deletion request "+d.DeletionID+" joined this deletion")
			case d.DeletionID == saga && d.ResumeAt != "":
				step(r, StepRetried, nil, "retried from step "+d.ResumeAt)
			}
		case events.PermissionGroupsUnbound:
			if i := slices.IndexFunc(d.Persons, func(p events.PersonPermissionGroups) bool { return p.PersonID == personID }); i >= 0 && d.DeletionID == saga {
				step(r, "unbind_permission_groups", count(len(d.Persons[i].PermissionGroupIDs)), "")
			}
		case events.FacesPurged:
			if i := slices.IndexFunc(d.Persons, func(p events.PersonFaces) bool { return p.PersonID == personID }); i >= 0 && d.DeletionID == saga {
				step(r, "purge_faces", count(len(d.Persons[i].FaceIDs)), "")
			}
		case events.PhotosPurged:
			if i := slices.IndexFunc(d.Persons, func(p events.PersonPhotos) bool { return p.PersonID == personID }); i >= 0 && d.DeletionID == saga {
				step(r, "purge_photos", count(len(d.Persons[i].PhotoKeys)), "")
			}
		case events.PersonRemovedFromTargets:
			if d.DeletionID == saga {
				step(r, "delete_from_targets", count(len(d.Targets)), "confirmed by "+strings.Join(d.Targets, ", "))
			}
		case events.PersonDeletionFailed:
			if d.DeletionID == saga {
				step(r, StepFailed, nil, d.Code+" at step "+d.Step)
			}
		case events.PersonDeleted:
			step(r, "delete_person", nil, "person deleted and data key destroyed")
		}
	}
	return rc, nil
}

// Canonical returns the receipt's canonical JSON.
func (rc Receipt) Canonical() []byte {
	b, _ := json.Marshal(rc)
	return b
}

// Algorithm names the signature scheme.
const Algorithm = "Ed25519"

// signed is a signed receipt as written: the canonical JSON of this struct and a newline, byte
// for byte. The signature covers the canonical JSON of the same struct without it.
type signed struct {
	Receipt   json.RawMessage `json:"receipt"`
	Algorithm string          `json:"algorithm"`
	PublicKey string          `json:"public_key"`
	Signature string          `json:"signature,omitempty"`
}

func (s signed) message() []byte {
	s.Signature = ""
	b, _ := json.Marshal(s)
	return b
}

func (s signed) encode() []byte {
	b, _ := json.Marshal(s)
	return append(b, '\n')
}

// KeyFile is the signing key's file name under the data directory.
const KeyFile = "signing.key"

// Signer signs receipts with an Ed25519 key.
type Signer struct{ key ed25519.PrivateKey }

// NewSigner returns a signer with key.
func NewSigner(key ed25519.PrivateKey) *Signer { return &Signer{key: key} }

// LoadOrCreateSigner returns the signer of the key given (ERASURE_SIGNING_KEY: standard base64
// of a 32-byte seed or a 64-byte private key), else of dir/signing.key, created with mode 0600
// on first use.
func LoadOrCreateSigner(dir, given string) (*Signer, error) {
	if given != "" {
		return parseKey(given, "ERASURE_SIGNING_KEY")
	}
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		return parseKey(strings.TrimSpace(string(b)), path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // another process made it first
		return LoadOrCreateSigner(dir, given)
	}
	if err != nil {
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(seed) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write signing key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync signing key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return NewSigner(ed25519.NewKeyFromSeed(seed)), nil
}

func parseKey(s, from string) (*Signer, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	switch {
	case err == nil && len(b) == ed25519.SeedSize:
		return NewSigner(ed25519.NewKeyFromSeed(b)), nil
	case err == nil && len(b) == ed25519.PrivateKeySize:
		return NewSigner(ed25519.PrivateKey(b)), nil
	}
	return nil, fmt.Errorf("signing key from %s must be an Ed25519 seed (32 bytes) or private key (64 bytes) in standard base64 (generate one with: head -c32 /dev/urandom | base64)", from)
}

// PublicKey returns the public key that verifies this signer's receipts.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// KeyID is a short fingerprint of a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// EncodePublicKey writes a public key as standard base64.
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// ParsePublicKey reads a public key in standard base64.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key must be %d bytes in standard base64", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// Sign returns the signed receipt file: canonical JSON and a newline.
func (s *Signer) Sign(rc Receipt) []byte {
	env := signed{Receipt: rc.Canonical(), Algorithm: Algorithm, PublicKey: EncodePublicKey(s.PublicKey())}
	env.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, env.message()))
	return env.encode()
}

// Verify checks a signed receipt file and returns the receipt. The file must be exactly as
// signed, byte for byte; trusted, if given, must be the key that signed it (without it, the key
// named in the file is used, which proves integrity but not origin).
func Verify(file []byte, trusted ed25519.PublicKey) (Receipt, error) {
	var env signed
	dec := json.NewDecoder(bytes.NewReader(file))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return Receipt{}, fmt.Errorf("%w: not a signed receipt: %v", ErrAltered, err)
	}
	if !bytes.Equal(env.encode(), file) {
		return Receipt{}, fmt.Errorf("%w: the file is not byte for byte the signed form", ErrAltered)
	}
	var rc Receipt
	rdec := json.NewDecoder(bytes.NewReader(env.Receipt))
	rdec.DisallowUnknownFields()
	if err := rdec.Decode(&rc); err != nil || !bytes.Equal(rc.Canonical(), env.Receipt) {
		return Receipt{}, fmt.Errorf("%w: the receipt is not in its canonical form", ErrAltered)
	}
	if env.Algorithm != Algorithm {
		return Receipt{}, fmt.Errorf("%w: algorithm %q", ErrBadSignature, env.Algorithm)
	}
	pub, err := ParsePublicKey(env.PublicKey)
	if err != nil || EncodePublicKey(pub) != env.PublicKey {
		return Receipt{}, fmt.Errorf("%w: public key", ErrAltered)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signature)
	if err != nil || base64.StdEncoding.EncodeToString(sig) != env.Signature {
		return Receipt{}, fmt.Errorf("%w: signature encoding", ErrAltered)
	}
	if trusted != nil && !pub.Equal(trusted) {
		return Receipt{}, fmt.Errorf("%w (signed by %s, trusted %s)", ErrUntrustedKey, KeyID(pub), KeyID(trusted))
	}
	if !ed25519.Verify(pub, env.message(), sig) {
		return Receipt{}, ErrBadSignature
	}
	return rc, nil
}
