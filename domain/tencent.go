package domain

import (
	"unicode"
	"unicode/utf8"
)

// ValidateTencentName checks a person or group name against Tencent IAI's rule, which the
// Tencent surface enforces on top of ValidateName: 1 to 60 characters, each a letter (Chinese
// included), a digit, '-' or '_'. The other surfaces keep the wider rule (spaces allowed).
func ValidateTencentName(name string) error {
	if name == "" {
		return ErrNameEmpty
	}
	if !utf8.ValidString(name) {
		return ErrNameIllegal
	}
	if utf8.RuneCountInString(name) > MaxNameLength {
		return ErrNameTooLong
	}
	if !tencentChars(name) {
		return ErrNameIllegal
	}
	return nil
}

// ValidateTencentTag checks a group tag against Tencent IAI's rule: at most 40 characters of
// the same charset as names; empty is allowed.
func ValidateTencentTag(tag string) error {
	if !utf8.ValidString(tag) {
		return ErrNameIllegal
	}
	if utf8.RuneCountInString(tag) > MaxTagLength {
		return ErrTagTooLong
	}
	if !tencentChars(tag) {
		return ErrNameIllegal
	}
	return nil
}

func tencentChars(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_' {
			return false
		}
	}
	return true
}
