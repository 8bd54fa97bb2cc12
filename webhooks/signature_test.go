package webhooks

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The Standard Webhooks specification's own example.
func TestSignMatchesTheSpecification(t *testing.T) {
	sig, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	require.Equal(t, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)
}

func TestSecretsAndRotation(t *testing.T) {
	s := NewSecret()
	require.True(t, strings.HasPrefix(s, SecretPrefix))
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
	require.NoError(t, err)
	require.Len(t, key, 32)
	require.NotEqual(t, s, NewSecret())

	h, err := signatureHeader([]string{s, NewSecret()}, "id", 1, []byte("{}"))
	require.NoError(t, err)
	parts := strings.Fields(h)
	require.Len(t, parts, 2)
	for _, p := range parts {
		require.True(t, strings.HasPrefix(p, "v1,"), p)
	}
	_, err = Sign("whsec_not base64!", "id", 1, nil)
	require.Error(t, err)
}
