package tencent

import (
	"unicode"

	"github.com/erasure-dev/erasure/domain"
)

// validateName checks a person or group name against Tencent IAI's rule: the domain's rule
// (1 to 60 characters), narrowed to letters (Chinese included), digits, '-' and '_'. The
// narrowing is this surface's contract with Tencent's clients, not the domain's: the other
// surfaces accept the wider rule (spaces allowed).
func validateName(name string) error {
	if err := domain.ValidateName(name); err != nil {
		return err
	}
	return tencentCharset(name)
}

// validateTag checks a group tag against Tencent IAI's rule: the domain's (at most 40
// characters, empty allowed), narrowed to the charset of names.
func validateTag(tag string) error {
	if err := domain.ValidateTag(tag); err != nil {
		return err
	}
	return tencentCharset(tag)
}

// tencentCharset refuses what the domain's rule lets through and Tencent's does not. The
// domain checks length before characters, as Tencent does, so a name both too long and
// illegal is still answered as too long.
func tencentCharset(s string) error {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_' {
			return domain.ErrNameIllegal
		}
	}
	return nil
}
