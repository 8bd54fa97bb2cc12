package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStreamsFromEnv(t *testing.T) {
	for _, tt := range []struct {
		name, perClient, total string
		want                   Streams
		wantErr                string
	}{
		{name: "defaults", want: Streams{PerClient: DefaultMaxStreamsPerClient, Total: DefaultMaxStreams}},
		{name: "set", perClient: "2", total: "50", want: Streams{PerClient: 2, Total: 50}},
		{name: "zero means the default at the API", perClient: "0", total: "0", want: Streams{}},
		{name: "unparsable per client", perClient: "many", wantErr: "ERASURE_MAX_STREAMS_PER_CLIENT"},
		{name: "negative total", total: "-5", wantErr: "ERASURE_MAX_STREAMS must"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ERASURE_MAX_STREAMS_PER_CLIENT", tt.perClient)
			t.Setenv("ERASURE_MAX_STREAMS", tt.total)
			c := FromEnv()
			if tt.wantErr != "" {
				require.ErrorContains(t, c.Validate(), tt.wantErr)
				return
			}
			require.NoError(t, c.Validate())
			require.Equal(t, tt.want, c.Streams)
		})
	}
}
