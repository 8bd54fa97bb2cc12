package domain

import "errors"

// Sentinel errors; every front door maps them to its own codes in one table.
var (
	ErrIDEmpty            = errors.New("id is empty")
	ErrIDTooLong          = errors.New("id is longer than 64 characters")
	ErrIDIllegal          = errors.New("id has characters outside [A-Za-z0-9_-%@#&]")
	ErrNameEmpty          = errors.New("name is empty")
	ErrNameTooLong        = errors.New("name is longer than 60 characters")
	ErrNameIllegal        = errors.New("name has control characters")
	ErrTagTooLong         = errors.New("tag is longer than 40 characters")
	ErrDuplicateID        = errors.New("the same id is given twice")
	ErrPersonExists       = errors.New("person already exists")
	ErrPersonNotFound     = errors.New("person not found")
	ErrPersonDeleting     = errors.New("person is being deleted")
	ErrTooManyFaces       = errors.New("a person has at most 5 faces")
	ErrTooManyGroups      = errors.New("a person is in at most 100 groups")
	ErrAlreadyInGroup     = errors.New("person is already in the group")
	ErrNotInGroup         = errors.New("person is not in the group")
	ErrFaceNotFound       = errors.New("face not found")
	ErrGroupExists        = errors.New("group already exists")
	ErrGroupNotFound      = errors.New("group not found")
	ErrGroupDeleting      = errors.New("group is being deleted")
	ErrNotDeleting        = errors.New("person is not being deleted")
	ErrStepOutOfOrder     = errors.New("deletion step out of order")
	ErrUnknownCommand     = errors.New("unknown command")
	ErrNotFailed          = errors.New("person deletion has not failed")
	ErrDeletionUnderway   = errors.New("the deletion has already removed data and cannot be cancelled")
	ErrNoPhoto            = errors.New("a face needs a photo")
	ErrPermissionNotFound = errors.New("permission group not found")
)
