package native

import (
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// A stream counts against its client as the guard's limits name it: an IPv6 /64 is one client,
// an IPv4-mapped address is its IPv4 address, and anonymous clients on loopback (a CLI and
// browser tabs alike) have no per-client cap, only the overall one.
func TestStreamSlotsPerClient(t *testing.T) {
	s := newStreamSlots(2, 8)
	take := func(remote string) error {
		r := httptest.NewRequest("GET", "/v1/deletions/d1/events", nil)
		r.RemoteAddr = remote
		_, err := s.acquire(r)
		return err
	}
	require.NoError(t, take("[2001:db8::1]:1000"))
	require.NoError(t, take("[2001:db8::2]:1000"))
	require.ErrorIs(t, take("[2001:db8::3]:1000"), errTooManyStreams, "the same /64")
	require.NoError(t, take("[2001:db8:0:1::1]:1000"), "another /64")

	require.NoError(t, take("198.51.100.7:1000"))
	require.NoError(t, take("[::ffff:198.51.100.7]:1001"))
	require.ErrorIs(t, take("198.51.100.7:1002"), errTooManyStreams, "the same address, once mapped")

	for i := range 3 {
		require.NoError(t, take("127.0.0.1:"+strconv.Itoa(2000+i)), "loopback: no per-client cap")
	}
	err := take("[::1]:3000")
	require.ErrorIs(t, err, errTooManyStreams, "the overall cap holds for loopback too")
	require.ErrorContains(t, err, "the server holds at most 8")
}
