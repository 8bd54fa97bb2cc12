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
	if !utf8.ValidString(name) {
		return ErrNameIllegal
	}
	if utf8.RuneCountInString(name) > MaxNameLength {
		return ErrNameTooLong
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return ErrNameIllegal
		}
	}
	return nil
}

// ValidateTag checks an optional group tag.
func ValidateTag(tag string) error {
	if !utf8.ValidString(tag) {
		return ErrNameIllegal
	}
	if utf8.RuneCountInString(tag) > MaxTagLength {
		return ErrTagTooLong
	}
	for _, r := range tag {
		if unicode.IsControl(r) {
			return ErrNameIllegal
		}
	}
	return nil
}
