package domain

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Limits from Tencent IAI, which our clients already live by.
const (
	MaxIDLength        = 64
	MaxNameLength      = 60
	MaxTagLength       = 40
	MaxFacesPerPerson  = 5
	MaxGroupsPerPerson = 100
)

// ValidateID checks an ID against Tencent's rule [A-Za-z0-9_\-%@#&]{1,64}. Such IDs are safe
// subject tokens (no dots, spaces or wildcards), which the event log relies on.
func ValidateID(id string) error {
	if id == "" {
		return ErrIDEmpty
	}
	if len(id) > MaxIDLength {
		return ErrIDTooLong
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '-', c == '%', c == '@', c == '#', c == '&':
		default:
			return ErrIDIllegal
		}
	}
	return nil
}

// ValidateIDs checks every ID and that none repeats.
func ValidateIDs(ids []string) error {
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if err := ValidateID(id); err != nil {
			return fmt.Errorf("%q: %w", id, err)
		}
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%q: %w", id, ErrDuplicateID)
		}
		seen[id] = struct{}{}
	}
	return nil
}

// ValidateName checks a person or group name: 1 to 60 characters, no control characters.
// The Tencent surface narrows the charset further, as Tencent does.
func ValidateName(name string) error {
	if name == "" {
		return ErrNameEmpty
	}
	return validateText(name, MaxNameLength, ErrNameTooLong)
}

// ValidateTag checks an optional group tag: at most 40 characters, no control characters.
func ValidateTag(tag string) error {
	return validateText(tag, MaxTagLength, ErrTagTooLong)
}

// validateText is the rule names and tags share. Length is judged before characters, as
// Tencent does, so a text both too long and illegal is answered as too long.
func validateText(s string, maxRunes int, tooLong error) error {
	if !utf8.ValidString(s) {
		return ErrNameIllegal
	}
	if utf8.RuneCountInString(s) > maxRunes {
		return tooLong
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return ErrNameIllegal
		}
	}
	return nil
}
