package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// TestFloorBoundsItsParameters: the floor of the largest population the flags allow (5 faces,
// 100 permission groups a person) fills its scratch tables on both dialects; with 200 persons a
// statement, 100 groups were 40,000 bound parameters, over SQLite's 32,766.
func TestFloorBoundsItsParameters(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		cfg := testenv.Config(t, dialect)
		cfg.APIKeys = ""
		env := testenv.Start(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		seconds, err := sqlFloor(ctx, env.Svc, Population{Persons: 400, Faces: 5, Photos: 0, PermissionGroups: 100})
		require.NoError(t, err)
		require.Positive(t, seconds)
	})
}
