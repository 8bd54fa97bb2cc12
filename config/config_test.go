package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSophonWait(t *testing.T) {
	tests := []struct {
		env  string
		want time.Duration
		ok   bool
	}{
		{"", 30 * time.Second, true},
		{"5s", 5 * time.Second, true},
		{"10m", 10 * time.Minute, true},
		{"11m", 11 * time.Minute, false},
		{"soon", -1, false},
		{"-1s", -time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("ERASURE_SOPHON_WAIT", tt.env)
			c := FromEnv()
			require.Equal(t, tt.want, c.SophonWait)
			err := c.Validate()
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, "ERASURE_SOPHON_WAIT")
			}
		})
	}
}
