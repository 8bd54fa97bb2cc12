package tencent

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
		{strings.Repeat("名", 60) + " ", domain.ErrNameTooLong}, // length is judged before characters
		{"Li Lei", domain.ErrNameIllegal},
		{"li.lei", domain.ErrNameIllegal},
		{"a\x00", domain.ErrNameIllegal},
		{"\xff", domain.ErrNameIllegal},
	} {
		if tc.want == nil {
			require.NoError(t, validateName(tc.name), "%q", tc.name)
			continue
		}
		require.ErrorIs(t, validateName(tc.name), tc.want, "%q", tc.name)
	}
}

func TestTencentTagRules(t *testing.T) {
	for _, tc := range []struct {
		tag  string
		want error
	}{
		{"", nil},
		{"总部_1", nil},
		{strings.Repeat("a", 40), nil},
		{strings.Repeat("a", 41), domain.ErrTagTooLong},
		{"head office", domain.ErrNameIllegal},
		{"\xff", domain.ErrNameIllegal},
	} {
		if tc.want == nil {
			require.NoError(t, validateTag(tc.tag), "%q", tc.tag)
			continue
		}
		require.ErrorIs(t, validateTag(tc.tag), tc.want, "%q", tc.tag)
	}
}
