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

func TestTencentSettings(t *testing.T) {
	tests := []struct {
		name, id, key, rate, burst string
		wantErr                    string
	}{
		{name: "defaults"},
		{name: "credentials", id: "AKIDtest", key: "secret"},
		{name: "id without key", id: "AKIDtest", wantErr: "ERASURE_TENCENT_SECRET_KEY"},
		{name: "rate", rate: "2.5", burst: "3"},
		{name: "negative rate", rate: "-3", wantErr: "ERASURE_TENCENT_RATE"},
		{name: "bad rate", rate: "fast", wantErr: "ERASURE_TENCENT_RATE"},
		{name: "bad burst", burst: "many", wantErr: "ERASURE_TENCENT_BURST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ERASURE_TENCENT_SECRET_ID", tt.id)
			t.Setenv("ERASURE_TENCENT_SECRET_KEY", tt.key)
			t.Setenv("ERASURE_TENCENT_RATE", tt.rate)
			t.Setenv("ERASURE_TENCENT_BURST", tt.burst)
			c := FromEnv()
			err := c.Validate()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if tt.rate == "" {
				require.Equal(t, 50.0, c.TencentRate)
				require.Equal(t, 50, c.TencentBurst)
			}
		})
	}
}
