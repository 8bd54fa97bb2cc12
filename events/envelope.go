package events

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
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

// Encode maps an envelope to a message on the given subject.
func Encode(subject string, e Envelope) (*nats.Msg, error) {
	payload, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.Type, err)
	}
	m := nats.NewMsg(subject)
	m.Data = payload
	m.Header.Set(nats.MsgIdHdr, e.ID)
	m.Header.Set(HeaderType, qualified(e.Type, e.SchemaVersion))
	m.Header.Set(HeaderTime, e.Time.UTC().Format(time.RFC3339Nano))
	if e.CorrelationID != "" {
		m.Header.Set(HeaderCorrelation, e.CorrelationID)
	}
	if e.CausationID != "" {
		m.Header.Set(HeaderCausation, e.CausationID)
	}
	if e.Actor != "" {
		m.Header.Set(HeaderActor, e.Actor)
	}
	return m, nil
}

// DecodeMsg maps a stored message back to a recorded envelope.
func DecodeMsg(subject string, h nats.Header, data []byte, seq uint64) (Recorded, error) {
	q := h.Get(HeaderType)
	name, version, err := splitQualified(q)
	if err != nil {
		return Recorded{}, fmt.Errorf("message %d: %w", seq, err)
	}
	v, err := Decode(q, data)
	if err != nil {
		return Recorded{}, fmt.Errorf("message %d: %w", seq, err)
	}
	if n, ver, err := TypeOf(v); err == nil {
		name, version = n, ver
	}
	t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderTime))
	if err != nil {
		return Recorded{}, fmt.Errorf("message %d: bad %s: %w", seq, HeaderTime, err)
	}
	agg, id := splitSubject(subject)
	return Recorded{Seq: seq, Envelope: Envelope{
		ID: h.Get(nats.MsgIdHdr), Type: name, SchemaVersion: version, Aggregate: agg, AggregateID: id,
		Time: t, CorrelationID: h.Get(HeaderCorrelation), CausationID: h.Get(HeaderCausation),
		Actor: h.Get(HeaderActor), Data: v,
	}}, nil
}

// splitSubject splits "prefix.aggregate.id"; IDs never contain dots (domain.ValidateID).
func splitSubject(s string) (string, string) {
	first := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			if first < 0 {
				first = i
				continue
			}
			return s[first+1 : i], s[i+1:]
		}
	}
	return "", s
}

// SeqString formats a sequence for logs and cursors.
func SeqString(seq uint64) string { return strconv.FormatUint(seq, 10) }
