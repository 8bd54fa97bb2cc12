package domain_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
)

func TestTencentNameRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		want error
	}{
		{"LiLei", nil},
		{"李雷", nil},
		{"li_lei-2", nil},
		{strings.Repeat("名", 60), nil},
		{"", domain.ErrNameEmpty},
		{strings.Repeat("名", 61), domain.ErrNameTooLong},
		{"Li Lei", domain.ErrNameIllegal},
		{"li.lei", domain.ErrNameIllegal},
		{"a\x00", domain.ErrNameIllegal},
		{"\xff", domain.ErrNameIllegal},
	} {
		require.ErrorIs(t, domain.ValidateTencentName(tc.name), tc.want, "%q", tc.name)
		if tc.want == nil {
			require.NoError(t, domain.ValidateTencentName(tc.name), "%q", tc.name)
		}
	}
}

func TestTencentTagRules(t *testing.T) {
	require.NoError(t, domain.ValidateTencentTag(""))
	require.NoError(t, domain.ValidateTencentTag("总部_1"))
	require.ErrorIs(t, domain.ValidateTencentTag(strings.Repeat("a", 41)), domain.ErrTagTooLong)
	require.ErrorIs(t, domain.ValidateTencentTag("head office"), domain.ErrNameIllegal)
}
