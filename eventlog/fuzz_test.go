package eventlog

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/erasure-dev/erasure/events"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeMsg: decoding a stored message never panics, whatever its headers and payload, and
// what decodes encodes back to the same event.
func FuzzDecodeMsg(f *testing.F) {
	for _, file := range []string{"../events/testdata/log_per_person.json", "../events/testdata/log_batch.json", "../events/testdata/log_v0.json"} {
		raw, err := os.ReadFile(file)
		require.NoError(f, err)
		var log []struct {
			Aggregate   string          `json:"aggregate"`
			AggregateID string          `json:"aggregate_id"`
			Type        string          `json:"type"`
			Time        string          `json:"time"`
			Data        json.RawMessage `json:"data"`
		}
		require.NoError(f, json.Unmarshal(raw, &log))
		for _, e := range log {
			f.Add("erasure."+e.Aggregate+"."+e.AggregateID, e.Type, e.Time, "req-1", []byte(e.Data))
		}
	}
	f.Add("erasure.person.p1", "PersonDeleted.v99", "2024-01-01T00:00:00Z", "", []byte(`{}`))
	f.Add("nodots", "PersonDeleted", "yesterday", "", []byte(`null`))
	f.Fuzz(func(t *testing.T, subject, typ, at, correlation string, data []byte) {
		h := nats.Header{}
		h.Set(events.HeaderType, typ)
		h.Set(events.HeaderTime, at)
		h.Set(events.HeaderCorrelation, correlation)
		h.Set(nats.MsgIdHdr, "e1")
		r, err := DecodeMsg(subject, h, data, 7)
		if err != nil {
			return
		}
		require.EqualValues(t, 7, r.Seq)
		m, err := Encode(subject, r.Envelope)
		require.NoError(t, err)
		again, err := DecodeMsg(m.Subject, m.Header, m.Data, 7)
		require.NoError(t, err, "an event that decoded must decode again once encoded")
		require.Equal(t, r.Type, again.Type)
		require.Equal(t, r.SchemaVersion, again.SchemaVersion)
		require.True(t, r.Time.Equal(again.Time))
		// The payload means the same once more: its canonical JSON is equal. (Go values may
		// differ where JSON cannot tell, e.g. an empty list under omitempty decodes back as nil.)
		first, err := json.Marshal(r.Data)
		require.NoError(t, err)
		second, err := json.Marshal(again.Data)
		require.NoError(t, err)
		require.JSONEq(t, string(first), string(second))
		require.Equal(t, reflect.TypeOf(r.Data), reflect.TypeOf(again.Data))
	})
}
