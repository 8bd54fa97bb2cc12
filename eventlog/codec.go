package eventlog

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/erasure-dev/erasure/events"
)

// Encode maps an envelope to a message on the given subject.
func Encode(subject string, e events.Envelope) (*nats.Msg, error) {
	payload, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.Type, err)
	}
	m := nats.NewMsg(subject)
	m.Data = payload
	m.Header.Set(nats.MsgIdHdr, e.ID)
	m.Header.Set(events.HeaderType, events.Qualified(e.Type, e.SchemaVersion))
	m.Header.Set(events.HeaderTime, e.Time.UTC().Format(time.RFC3339Nano))
	if e.CorrelationID != "" {
		m.Header.Set(events.HeaderCorrelation, e.CorrelationID)
	}
	if e.CausationID != "" {
		m.Header.Set(events.HeaderCausation, e.CausationID)
	}
	if e.Actor != "" {
		m.Header.Set(events.HeaderActor, e.Actor)
	}
	return m, nil
}

// DecodeMsg maps a stored message back to a recorded envelope.
func DecodeMsg(subject string, h nats.Header, data []byte, seq uint64) (events.Recorded, error) {
	q := h.Get(events.HeaderType)
	name, version, err := events.SplitQualified(q)
	if err != nil {
		return events.Recorded{}, fmt.Errorf("message %d: %w", seq, err)
	}
	v, err := events.Decode(q, data)
	if err != nil {
		return events.Recorded{}, fmt.Errorf("message %d: %w", seq, err)
	}
	if n, ver, err := events.TypeOf(v); err == nil {
		name, version = n, ver
	}
	t, err := time.Parse(time.RFC3339Nano, h.Get(events.HeaderTime))
	if err != nil {
		return events.Recorded{}, fmt.Errorf("message %d: bad %s: %w", seq, events.HeaderTime, err)
	}
	agg, id := splitSubject(subject)
	return events.Recorded{Seq: seq, Envelope: events.Envelope{
		ID: h.Get(nats.MsgIdHdr), Type: name, SchemaVersion: version, Aggregate: agg, AggregateID: id,
		Time: t, CorrelationID: h.Get(events.HeaderCorrelation), CausationID: h.Get(events.HeaderCausation),
		Actor: h.Get(events.HeaderActor), Data: v,
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
