package events

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"sync"
	"time"
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
// so that ids sort by creation time and a list, a log line or a directory of receipts reads in
// the order requests were made. Ids made before (NewID's 32 hex digits) stay valid: nothing
// parses an id. Written here rather than taken from a UUID library, which would bring
// database/sql/driver and net into this package of pure data.
func NewDeletionID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	ms, seq := v7Clock.next()
	binary.BigEndian.PutUint64(u[:8], ms<<16|0x7000|seq) // 48-bit time, version 7, 12-bit counter
	u[8] = u[8]&0x3f | 0x80                              // RFC 9562 variant
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// v7Clock gives ids made in one process increasing (milliseconds, counter) pairs, RFC 9562's
// method 1 (6.2): the counter orders ids made in one millisecond, and time runs ahead of the
// clock rather than back when the counter overflows or the clock steps back.
var v7Clock v7Time

type v7Time struct {
	sync.Mutex
	ms, seq uint64
}

func (c *v7Time) next() (ms, seq uint64) {
	c.Lock()
	defer c.Unlock()
	now := uint64(time.Now().UnixMilli())
	switch {
	case now > c.ms:
		c.ms, c.seq = now, 0
	case c.seq < 0xfff:
		c.seq++
	default:
		c.ms, c.seq = c.ms+1, 0
	}
	return c.ms, c.seq
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

// SeqString formats a sequence for logs and cursors.
func SeqString(seq uint64) string { return strconv.FormatUint(seq, 10) }
