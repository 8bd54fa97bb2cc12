package app_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
)

// TestCallerRecordedInEvents checks that what a front door says of its caller is what the
// change's events record: the actor, and the request id as the correlation id, or, for a
// deletion request without one, the deletion's own id.
func TestCallerRecordedInEvents(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	ctx := context.Background()
	a := env.Svc.App

	_, err := a.CreateGroup(ctx, app.Caller{Actor: "key-a", RequestID: "req-1"}, "g1", "Group", "")
	require.NoError(t, err)
	deletionID, _, err := a.RequestDeletion(ctx, app.Caller{Actor: "key-b"}, app.DeletionInput{
		IDs: func(yield func(string) bool) error { yield("nobody"); return nil }})
	require.NoError(t, err)

	tests := []struct {
		name, aggregate, id, actor, correlation string
	}{
		{"group created", events.AggregateGroup, "g1", "key-a", "req-1"},
		{"deletion requested", events.AggregateDeletion, deletionID, "key-b", deletionID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _, err := env.Svc.Log.Load(ctx, tt.aggregate, tt.id)
			require.NoError(t, err)
			require.NotEmpty(t, recs)
			require.Equal(t, tt.actor, recs[0].Actor)
			require.Equal(t, tt.correlation, recs[0].CorrelationID)
		})
	}
}
