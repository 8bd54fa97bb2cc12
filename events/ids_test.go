package events_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
)

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// Deletion ids sort by creation time: each id made after another compares greater as text, even
// many within one millisecond; each is a version 7 UUID in canonical text whose first 48 bits
// are the time it was made, in milliseconds.
func TestDeletionIDsSortByCreation(t *testing.T) {
	before := time.Now().UnixMilli()
	prev := ""
	for range 20_000 {
		id := events.NewDeletionID()
		require.Regexp(t, uuidV7, id)
		require.Greater(t, id, prev)
		prev = id
	}
	var ms int64
	_, err := fmt.Sscanf(prev[:8]+prev[9:13], "%x", &ms)
	require.NoError(t, err)
	// 20,000 ids may run the counter ahead of the clock by a few milliseconds, never more.
	require.InDelta(t, time.Now().UnixMilli(), ms, 50)
	require.GreaterOrEqual(t, ms, before)
}
