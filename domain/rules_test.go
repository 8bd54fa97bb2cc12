package domain_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
)

// requireErr checks err against want: nil means no error, anything else is matched with errors.Is.
func requireErr(t *testing.T, want, err error) {
	t.Helper()
	if want == nil {
		require.NoError(t, err)
		return
	}
	require.ErrorIs(t, err, want)
}

func TestValidateID(t *testing.T) {
	tests := []struct {
		name string
		id   string // given
		err  error  // then
	}{
		// legal
		{name: "one lowercase letter", id: "a"},
		{name: "one uppercase letter", id: "Z"},
		{name: "one digit", id: "0"},
		{name: "underscore", id: "_"},
		{name: "hyphen", id: "-"},
		{name: "percent", id: "%"},
		{name: "at sign", id: "@"},
		{name: "hash", id: "#"},
		{name: "ampersand", id: "&"},
		{name: "every legal character", id: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"},
		{name: "every legal symbol", id: "_-%@#&"},
		{name: "uuid", id: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
		{name: "email-like without dot", id: "alice@example"},
		{name: "url-escaped looking", id: "a%20b"},
		{name: "exactly 64 characters", id: strings.Repeat("x", 64)},
		{name: "64 mixed characters", id: strings.Repeat("aZ9_-%@#", 8)},

		// length
		{name: "empty", id: "", err: domain.ErrIDEmpty},
		{name: "65 characters", id: strings.Repeat("x", 65), err: domain.ErrIDTooLong},
		{name: "1000 characters", id: strings.Repeat("x", 1000), err: domain.ErrIDTooLong},

		// subject-token hazards
		{name: "dot", id: "a.b", err: domain.ErrIDIllegal},
		{name: "only a dot", id: ".", err: domain.ErrIDIllegal},
		{name: "leading dot", id: ".a", err: domain.ErrIDIllegal},
		{name: "trailing dot", id: "a.", err: domain.ErrIDIllegal},
		{name: "space", id: "a b", err: domain.ErrIDIllegal},
		{name: "only a space", id: " ", err: domain.ErrIDIllegal},
		{name: "leading space", id: " a", err: domain.ErrIDIllegal},
		{name: "trailing space", id: "a ", err: domain.ErrIDIllegal},
		{name: "tab", id: "a\tb", err: domain.ErrIDIllegal},
		{name: "newline", id: "a\nb", err: domain.ErrIDIllegal},
		{name: "carriage return", id: "a\rb", err: domain.ErrIDIllegal},
		{name: "NUL", id: "a\x00b", err: domain.ErrIDIllegal},
		{name: "DEL", id: "a\x7fb", err: domain.ErrIDIllegal},
		{name: "star wildcard", id: "*", err: domain.ErrIDIllegal},
		{name: "star inside", id: "a*b", err: domain.ErrIDIllegal},
		{name: "greater-than wildcard", id: ">", err: domain.ErrIDIllegal},
		{name: "greater-than inside", id: "a>", err: domain.ErrIDIllegal},

		// other punctuation
		{name: "slash", id: "a/b", err: domain.ErrIDIllegal},
		{name: "backslash", id: `a\b`, err: domain.ErrIDIllegal},
		{name: "colon", id: "a:b", err: domain.ErrIDIllegal},
		{name: "plus", id: "a+b", err: domain.ErrIDIllegal},
		{name: "dollar", id: "$a", err: domain.ErrIDIllegal},
		{name: "exclamation", id: "a!", err: domain.ErrIDIllegal},
		{name: "question mark", id: "a?", err: domain.ErrIDIllegal},
		{name: "equals", id: "a=b", err: domain.ErrIDIllegal},
		{name: "comma", id: "a,b", err: domain.ErrIDIllegal},
		{name: "semicolon", id: "a;b", err: domain.ErrIDIllegal},
		{name: "quote", id: `a"b`, err: domain.ErrIDIllegal},
		{name: "apostrophe", id: "a'b", err: domain.ErrIDIllegal},
		{name: "tilde", id: "a~b", err: domain.ErrIDIllegal},
		{name: "pipe", id: "a|b", err: domain.ErrIDIllegal},
		{name: "brackets", id: "[a]", err: domain.ErrIDIllegal},
		{name: "braces", id: "{a}", err: domain.ErrIDIllegal},
		{name: "parentheses", id: "(a)", err: domain.ErrIDIllegal},
		{name: "angle open", id: "<a", err: domain.ErrIDIllegal},
		{name: "caret", id: "a^b", err: domain.ErrIDIllegal},
		{name: "backtick", id: "a`b", err: domain.ErrIDIllegal},

		// unicode
		{name: "latin letter with accent", id: "é", err: domain.ErrIDIllegal},
		{name: "accent inside", id: "cafe\u0301", err: domain.ErrIDIllegal},
		{name: "chinese", id: "张三", err: domain.ErrIDIllegal},
		{name: "emoji", id: "a😀", err: domain.ErrIDIllegal},
		{name: "fullwidth digit", id: "１", err: domain.ErrIDIllegal},
		{name: "fullwidth full stop", id: "a．b", err: domain.ErrIDIllegal},
		{name: "no-break space", id: "a\u00a0b", err: domain.ErrIDIllegal},
		{name: "zero-width space", id: "a\u200bb", err: domain.ErrIDIllegal},
		{name: "cyrillic lookalike", id: "аdmin", err: domain.ErrIDIllegal},
		{name: "invalid utf-8", id: "a\xffb", err: domain.ErrIDIllegal},
		{name: "32 two-byte runes fit the length", id: strings.Repeat("é", 32), err: domain.ErrIDIllegal},
		{name: "illegal character at the end of 64", id: strings.Repeat("x", 63) + ".", err: domain.ErrIDIllegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// when
			err := domain.ValidateID(tt.id)
			// then
			requireErr(t, tt.err, err)
		})
	}
}

// TestValidateIDEveryByte checks every single-byte ID against the charset [A-Za-z0-9_-%@#&].
func TestValidateIDEveryByte(t *testing.T) {
	legal := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-%@#&", c) >= 0
	}
	n := 0
	for b := 0; b < 256; b++ {
		c := byte(b)
		// given an ID of one byte; when it is validated
		err := domain.ValidateID(string([]byte{c}))
		// then only the charset passes
		if legal(c) {
			n++
			require.NoError(t, err, "byte %#02x", c)
		} else {
			require.ErrorIs(t, err, domain.ErrIDIllegal, "byte %#02x", c)
		}
	}
	require.Equal(t, 26+26+10+6, n)
}

func TestValidateIDs(t *testing.T) {
	tests := []struct {
		name string
		ids  []string // given
		err  error    // then
	}{
		{name: "nil", ids: nil},
		{name: "empty", ids: []string{}},
		{name: "one", ids: []string{"a"}},
		{name: "distinct", ids: []string{"a", "b", "c"}},
		{name: "case differs", ids: []string{"a", "A"}},
		{name: "prefix of another", ids: []string{"a", "ab"}},
		{name: "100 distinct", ids: manyIDs("g", 100)},
		{name: "adjacent duplicate", ids: []string{"a", "a"}, err: domain.ErrDuplicateID},
		{name: "distant duplicate", ids: []string{"a", "b", "c", "a"}, err: domain.ErrDuplicateID},
		{name: "duplicate at the end of many", ids: append(manyIDs("g", 100), "g1"), err: domain.ErrDuplicateID},
		{name: "empty element", ids: []string{"a", ""}, err: domain.ErrIDEmpty},
		{name: "too long element", ids: []string{strings.Repeat("x", 65)}, err: domain.ErrIDTooLong},
		{name: "dotted element", ids: []string{"a", "b.c"}, err: domain.ErrIDIllegal},
		{name: "wildcard element", ids: []string{"*"}, err: domain.ErrIDIllegal},
		{name: "unicode element", ids: []string{"组"}, err: domain.ErrIDIllegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// when
			err := domain.ValidateIDs(tt.ids)
			// then
			requireErr(t, tt.err, err)
		})
	}
}

func TestValidateIDsNamesTheOffendingID(t *testing.T) {
	// given a list with one bad and one repeated id; when validated; then the error names the id
	require.ErrorContains(t, domain.ValidateIDs([]string{"ok", "bad.id"}), `"bad.id"`)
	require.ErrorContains(t, domain.ValidateIDs([]string{"dup", "x", "dup"}), `"dup"`)
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name  string
		given string
		err   error
	}{
		{name: "one letter", given: "a"},
		{name: "ascii with spaces", given: "Alice Smith"},
		{name: "punctuation", given: "O'Brien-Smith, Jr. (#1) & co."},
		{name: "60 ascii", given: strings.Repeat("a", 60)},
		{name: "chinese", given: "张三"},
		{name: "60 chinese characters (180 bytes)", given: strings.Repeat("张", 60)},
		{name: "60 mixed chinese and ascii", given: strings.Repeat("张a", 30)},
		{name: "60 emoji (240 bytes)", given: strings.Repeat("😀", 60)},
		{name: "60 runes with combining accents", given: strings.Repeat("e\u0301", 30)},
		{name: "accented", given: "Zoë Ångström"},
		{name: "only spaces", given: "   "},
		{name: "no-break space", given: "a\u00a0b"},
		{name: "zero-width space is a format character, not a control", given: "a\u200bb"},

		{name: "empty", given: "", err: domain.ErrNameEmpty},
		{name: "61 ascii", given: strings.Repeat("a", 61), err: domain.ErrNameTooLong},
		{name: "61 chinese characters", given: strings.Repeat("张", 61), err: domain.ErrNameTooLong},
		{name: "60 chinese characters and one ascii", given: strings.Repeat("张", 60) + "a", err: domain.ErrNameTooLong},
		{name: "61 emoji", given: strings.Repeat("😀", 61), err: domain.ErrNameTooLong},
		{name: "62 runes with combining accents", given: strings.Repeat("e\u0301", 31), err: domain.ErrNameTooLong},

		{name: "NUL", given: "a\x00b", err: domain.ErrNameIllegal},
		{name: "tab", given: "a\tb", err: domain.ErrNameIllegal},
		{name: "newline", given: "a\nb", err: domain.ErrNameIllegal},
		{name: "trailing newline", given: "Alice\n", err: domain.ErrNameIllegal},
		{name: "carriage return", given: "a\rb", err: domain.ErrNameIllegal},
		{name: "escape", given: "\x1b[31mred", err: domain.ErrNameIllegal},
		{name: "unit separator", given: "a\x1fb", err: domain.ErrNameIllegal},
		{name: "DEL", given: "a\x7fb", err: domain.ErrNameIllegal},
		{name: "C1 control U+0080", given: "a\u0080b", err: domain.ErrNameIllegal},
		{name: "C1 next line U+0085", given: "a\u0085b", err: domain.ErrNameIllegal},
		{name: "C1 control U+009F", given: "a\u009fb", err: domain.ErrNameIllegal},
		{name: "only a control character", given: "\x00", err: domain.ErrNameIllegal},
		{name: "control character among chinese", given: "张\n三", err: domain.ErrNameIllegal},
		{name: "invalid utf-8", given: "a\xffb", err: domain.ErrNameIllegal},
		{name: "truncated utf-8", given: "张"[:2], err: domain.ErrNameIllegal},
		{name: "surrogate half encoded", given: "\xed\xa0\x80", err: domain.ErrNameIllegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// when
			err := domain.ValidateName(tt.given)
			// then
			requireErr(t, tt.err, err)
		})
	}
}

func TestValidateTag(t *testing.T) {
	tests := []struct {
		name  string
		given string
		err   error
	}{
		{name: "empty is allowed", given: ""},
		{name: "short", given: "staff"},
		{name: "with spaces", given: "night shift"},
		{name: "40 ascii", given: strings.Repeat("t", 40)},
		{name: "40 chinese characters", given: strings.Repeat("员", 40)},
		{name: "40 emoji", given: strings.Repeat("😀", 40)},

		{name: "41 ascii", given: strings.Repeat("t", 41), err: domain.ErrTagTooLong},
		{name: "41 chinese characters", given: strings.Repeat("员", 41), err: domain.ErrTagTooLong},
		{name: "61 ascii", given: strings.Repeat("t", 61), err: domain.ErrTagTooLong},

		{name: "NUL", given: "a\x00", err: domain.ErrNameIllegal},
		{name: "tab", given: "a\tb", err: domain.ErrNameIllegal},
		{name: "newline", given: "a\nb", err: domain.ErrNameIllegal},
		{name: "DEL", given: "a\x7f", err: domain.ErrNameIllegal},
		{name: "C1 next line", given: "a\u0085", err: domain.ErrNameIllegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// when
			err := domain.ValidateTag(tt.given)
			// then
			requireErr(t, tt.err, err)
		})
	}
}

func TestLimits(t *testing.T) {
	require.Equal(t, 64, domain.MaxIDLength)
	require.Equal(t, 60, domain.MaxNameLength)
	require.Equal(t, 40, domain.MaxTagLength)
	require.Equal(t, 5, domain.MaxFacesPerPerson)
	require.Equal(t, 100, domain.MaxGroupsPerPerson)
}
