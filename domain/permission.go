package domain

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/erasure-dev/erasure/events"
)

// Errors of permission groups (besides ErrPermissionNotFound).
var (
	ErrPermissionGroupExists   = errors.New("permission group already exists")
	ErrPermissionGroupDeleting = errors.New("permission group is being deleted")
	ErrPermissionNameTaken     = errors.New("permission group name is taken")
	ErrDescriptionTooLong      = errors.New("description is longer than 256 characters")
)

// MaxDescriptionLength bounds a permission group's description. Sophon documents no limit; 256
// characters is far beyond its examples and keeps a description a description.
const MaxDescriptionLength = 256

// ValidatePermissionName checks a permission group's name: the rules of every other name (1 to 60
// characters, no control characters). Sophon requires it non-empty and documents no length.
func ValidatePermissionName(name string) error { return ValidateName(name) }

// ValidateDescription checks an optional description: at most 256 characters; line breaks and
// tabs are allowed, other control characters are not.
func ValidateDescription(s string) error {
	if !utf8.ValidString(s) {
		return ErrNameIllegal
	}
	if utf8.RuneCountInString(s) > MaxDescriptionLength {
		return ErrDescriptionTooLong
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return ErrNameIllegal
		}
	}
	return nil
}

// PermissionGroupStatus is where a permission group is in its life.
type PermissionGroupStatus string

// Permission group statuses.
const (
	PermissionGroupAbsent   PermissionGroupStatus = ""
	PermissionGroupActive   PermissionGroupStatus = "active"
	PermissionGroupDeleting PermissionGroupStatus = "deleting"
	PermissionGroupDeleted  PermissionGroupStatus = "deleted"
)

// PermissionGroup is the aggregate of an access-control permission group (a Sophon permission).
// Bindings live on the persons, like memberships, so binding many persons never contends on the
// permission group's subject; its own subject carries only its life.
type PermissionGroup struct {
	id          string
	status      PermissionGroupStatus
	name        string
	description string
}

// PermissionGroupFromHistory rebuilds a permission group from its events, oldest first.
func PermissionGroupFromHistory(id string, history []any) *PermissionGroup {
	g := &PermissionGroup{id: id}
	for _, e := range history {
		g.Apply(e)
	}
	return g
}

// ID returns the permission group's id.
func (g *PermissionGroup) ID() string { return g.id }

// Status returns the permission group's status.
func (g *PermissionGroup) Status() PermissionGroupStatus { return g.status }

// Name returns the permission group's name (kept after deletion, to release it).
func (g *PermissionGroup) Name() string { return g.name }

// Description returns the permission group's description.
func (g *PermissionGroup) Description() string { return g.description }

// Live reports whether the permission group is active or being deleted: its name is taken.
func (g *PermissionGroup) Live() bool {
	return g.status == PermissionGroupActive || g.status == PermissionGroupDeleting
}

// Commands on a permission group.
type (
	// CreatePermissionGroup creates a permission group. The caller has reserved the name.
	CreatePermissionGroup struct{ Name, Description string }
	// RequestPermissionGroupDeletion starts unbinding the members; a repeat joins the running deletion.
	RequestPermissionGroupDeletion struct{}
	// CompletePermissionGroupDeletion ends the permission group once no person is bound to it.
	CompletePermissionGroupDeletion struct{}
)

// Decide returns the events cmd produces on this permission group, or why it is refused.
func (g *PermissionGroup) Decide(cmd any) ([]any, error) {
	switch c := cmd.(type) {
	case CreatePermissionGroup:
		if err := ValidateID(g.id); err != nil {
			return nil, err
		}
		if err := ValidatePermissionName(c.Name); err != nil {
			return nil, err
		}
		if err := ValidateDescription(c.Description); err != nil {
			return nil, err
		}
		switch g.status {
		case PermissionGroupActive:
			return nil, ErrPermissionGroupExists
		case PermissionGroupDeleting:
			return nil, ErrPermissionGroupDeleting
		}
		return []any{events.PermissionGroupCreated{PermissionGroupID: g.id, Name: c.Name, Description: c.Description}}, nil
	case RequestPermissionGroupDeletion:
		switch g.status {
		case PermissionGroupAbsent, PermissionGroupDeleted:
			return nil, ErrPermissionNotFound
		case PermissionGroupDeleting:
			return nil, nil
		}
		return []any{events.PermissionGroupDeletionRequested{PermissionGroupID: g.id, Name: g.name}}, nil
	case CompletePermissionGroupDeletion:
		switch g.status {
		case PermissionGroupDeleted:
			return nil, nil
		case PermissionGroupDeleting:
			return []any{events.PermissionGroupDeleted{PermissionGroupID: g.id, Name: g.name}}, nil
		}
		return nil, ErrPermissionNotFound
	}
	return nil, fmt.Errorf("%w: %T", ErrUnknownCommand, cmd)
}

// Apply moves the permission group's state by one event.
func (g *PermissionGroup) Apply(e any) {
	switch e := e.(type) {
	case events.PermissionGroupCreated:
		g.status, g.name, g.description = PermissionGroupActive, e.Name, e.Description
	case events.PermissionGroupDeletionRequested:
		g.status = PermissionGroupDeleting
	case events.PermissionGroupDeleted:
		g.status = PermissionGroupDeleted
	}
}
