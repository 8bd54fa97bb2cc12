package httpx

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

type testRow struct {
	err  error
	code string
}

func (r testRow) Sentinel() error { return r.err }

func TestLookupError(t *testing.T) {
	errSpecific := errors.New("specific")
	errGeneral := errors.New("general")
	table := []testRow{{errSpecific, "SPECIFIC"}, {errGeneral, "GENERAL"}}
	for _, tc := range []struct {
		name string
		err  error
		code string // "" when no row knows it
	}{
		{"a sentinel itself", errGeneral, "GENERAL"},
		{"a wrapped sentinel", fmt.Errorf("person p1: %w", errSpecific), "SPECIFIC"},
		{"both: the earlier row wins", fmt.Errorf("%w: %w", errGeneral, errSpecific), "SPECIFIC"},
		{"unknown", errors.New("disk on fire"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row, ok := LookupError(table, tc.err)
			require.Equal(t, tc.code != "", ok)
			require.Equal(t, tc.code, row.code)
		})
	}
}
