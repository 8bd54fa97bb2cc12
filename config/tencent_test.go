package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTencentAllowUnsignedPayload(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want bool
		ok   bool
	}{
		{"", false, true},
		{"true", true, true},
		{"false", false, true},
		{"yes please", false, false},
	} {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("ERASURE_TENCENT_ALLOW_UNSIGNED_PAYLOAD", tt.env)
			c := FromEnv()
			require.Equal(t, tt.want, c.TencentAllowUnsignedPayload)
			err := c.Validate()
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, "ERASURE_TENCENT_ALLOW_UNSIGNED_PAYLOAD")
			}
		})
	}
}
