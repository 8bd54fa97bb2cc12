package events

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Envelope is one event with its metadata. Data holds one of the registered event structs.
type Envelope struct {
	ID            string
	Type          string // registered name, e.g. "PersonCreated"
	SchemaVersion int
	Aggregate     string
	AggregateID   string
	Time          time.Time
	CorrelationID string // the request that led to this event
	CausationID   string // the event or command that caused it
	Actor         string
	Data          any
}

// Recorded is an envelope as stored, with its stream sequence.
type Recorded struct {
	Envelope
	Seq uint64
}

// Meta is the metadata a caller gives when building events.
type Meta struct {
	CorrelationID string
	CausationID   string
	Actor         string
	Time          time.Time
}

// New builds an envelope for data on the aggregate instance, with a fresh event id.
func New(aggregate, id string, data any, meta Meta) (Envelope, error) {
	name, version, err := TypeOf(data)
	if err != nil {
		return Envelope{}, err
	}
	t := meta.Time
	if t.IsZero() {
		t = time.Now().UTC()
	}
	return Envelope{
		ID: NewID(), Type: name, SchemaVersion: version, Aggregate: aggregate, AggregateID: id,
		Time: t.UTC().Truncate(time.Microsecond), CorrelationID: meta.CorrelationID,
		CausationID: meta.CausationID, Actor: meta.Actor, Data: data,
	}, nil
}

// NewID returns a random 128-bit identifier in hex.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewDeletionID returns a fresh deletion request id: a UUIDv7 (RFC 9562) in its canonical text,
// so that ids sort by creation time (milliseconds, then a counter that keeps ids made in one
// process in order) and a list, a log line or a directory of receipts reads in the order
// requests were made. Ids made before (NewID's 32 hex digits) stay valid: nothing parses an id.
func NewDeletionID() string { return uuid.Must(uuid.NewV7()).String() }

// Subject returns the subject an aggregate instance's events live on.
func Subject(prefix, aggregate, id string) string { return prefix + "." + aggregate + "." + id }

// Header names: the metadata travels in headers so that consumers can route without decoding.
const (
	HeaderType        = "Erasure-Type" // "Name.vN"
	HeaderTime        = "Erasure-Time"
	HeaderCorrelation = "Erasure-Correlation-Id"
	HeaderCausation   = "Erasure-Causation-Id"
	HeaderActor       = "Erasure-Actor"
)

// SeqString formats a sequence for logs and cursors.
func SeqString(seq uint64) string { return strconv.FormatUint(seq, 10) }
