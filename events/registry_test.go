package events

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

type sampleV2 struct {
	Who  string `json:"who"`
	Kind string `json:"kind"`
}

func TestDecodeUpcastsOlderVersions(t *testing.T) {
	Register[sampleV2]("SampleForTest", 2)
	RegisterUpcaster("SampleForTest", 1, func(raw json.RawMessage) (json.RawMessage, error) {
		var v1 struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &v1); err != nil {
			return nil, err
		}
		return json.Marshal(sampleV2{Who: v1.Name, Kind: "lifted"})
	})
	tests := []struct {
		name string
		typ  string
		raw  string
		want any
		err  bool
	}{
		{"current version", "SampleForTest.v2", `{"who":"a","kind":"k"}`, sampleV2{Who: "a", Kind: "k"}, false},
		{"older version upcast", "SampleForTest.v1", `{"name":"b"}`, sampleV2{Who: "b", Kind: "lifted"}, false},
		{"unknown type", "Nope.v1", `{}`, nil, true},
		{"garbage type", "Nope", `{}`, nil, true},
		{"bad payload", "SampleForTest.v2", `[`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.typ, json.RawMessage(tt.raw))
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
