package events_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
)

// Deletion ids sort by creation time: each id made after another compares greater as text, even
// within one millisecond, and each is a version 7 UUID.
func TestDeletionIDsSortByCreation(t *testing.T) {
	prev := ""
	for range 10_000 {
		id := events.NewDeletionID()
		u, err := uuid.Parse(id)
		require.NoError(t, err)
		require.Equal(t, uuid.Version(7), u.Version())
		require.Equal(t, u.String(), id, "canonical text")
		require.Greater(t, id, prev)
		prev = id
	}
}
