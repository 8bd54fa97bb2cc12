package domain

import (
	"fmt"
	"slices"

	"github.com/erasure-dev/erasure/events"
)

// PersonStatus is where a person is in its life.
type PersonStatus string

// Person statuses. A person that never existed has StatusAbsent.
const (
	StatusAbsent   PersonStatus = ""
	StatusActive   PersonStatus = "active"
	StatusDeleting PersonStatus = "deleting"
	StatusDeleted  PersonStatus = "deleted"
)

// Step is one step of the person-deletion saga, in order.
type Step string

// Saga steps, in the order they run.
const (
	StepUnbindPermissions Step = "unbind_permission_groups"
	StepPurgeFaces        Step = "purge_faces"
	StepPurgePhotos       Step = "purge_photos"
	StepDeleteFromTargets Step = "delete_from_targets" // only with external targets configured
	StepDeletePerson      Step = "delete_person"
)

// Steps lists the saga's steps in order.
var Steps = []Step{StepUnbindPermissions, StepPurgeFaces, StepPurgePhotos, StepDeleteFromTargets, StepDeletePerson}

func (s Step) index() int { return slices.Index(Steps, s) }

// Person is the aggregate for one person: memberships, faces, photos, permission bindings, and
// the progress of its deletion. Its state is rebuilt from its events only.
type Person struct {
	id          string
	status      PersonStatus
	name        events.Sealed
	groups      []string
	permissions []string
	faces       []events.Face
	deletion    string // the running deletion's id
	batch       string // the batch recording the deletion's steps ("" : the person's own subject)
	next        Step   // the deletion's next step
	failed      bool
	targets     []string // external targets still to confirm the deletion
}

// PersonFromHistory rebuilds a person from its events, oldest first.
func PersonFromHistory(id string, history []any) *Person {
	p := &Person{id: id}
	for _, e := range history {
		p.Apply(e)
	}
	return p
}

// ID returns the person's id.
func (p *Person) ID() string { return p.id }

// Status returns the person's status.
func (p *Person) Status() PersonStatus { return p.status }

// Exists reports whether the person is active or being deleted.
func (p *Person) Exists() bool { return p.status == StatusActive || p.status == StatusDeleting }

// GroupIDs returns the groups the person belongs to.
func (p *Person) GroupIDs() []string { return slices.Clone(p.groups) }

// Faces returns the person's faces.
func (p *Person) Faces() []events.Face { return slices.Clone(p.faces) }

// PermissionGroupIDs returns the permission groups the person is bound to.
func (p *Person) PermissionGroupIDs() []string { return slices.Clone(p.permissions) }

// Deletion returns the running deletion's id, its next step, and whether it has failed.
func (p *Person) Deletion() (id string, next Step, failed bool) { return p.deletion, p.next, p.failed }

// Batch returns the batch that records the running deletion's steps ("": the person's own
// subject records them).
func (p *Person) Batch() string { return p.batch }

// PendingTargets returns the external targets that have not confirmed the deletion yet.
func (p *Person) PendingTargets() []string { return slices.Clone(p.targets) }

// Commands on a person.
type (
	// CreatePerson registers a person with its initial memberships, bindings and faces.
	CreatePerson struct {
		Name               events.Sealed
		GroupIDs           []string
		PermissionGroupIDs []string
		Faces              []events.Face
		Profile            events.Sealed // optional further personal fields, sealed
	}
	// AddPersonToGroup adds a membership.
	AddPersonToGroup struct{ GroupID string }
	// RemovePersonFromGroup removes a membership; the person stays.
	RemovePersonFromGroup struct{ GroupID string }
	// AddFace adds a face.
	AddFace struct{ Face events.Face }
	// DeleteFace removes a face.
	DeleteFace struct{ FaceID string }
	// BindPermissionGroup binds the person to a permission group; binding twice is a no-op.
	BindPermissionGroup struct{ PermissionGroupID string }
	// UnbindPermissionGroup removes one binding because its permission group is being deleted.
	// Unbinding what is not bound is a no-op, so a redelivered unbind is harmless.
	UnbindPermissionGroup struct{ PermissionGroupID string }
	// RequestPersonDeletion deletes the person, or with GroupID only that membership, deleting
	// the person when it was the last.
	RequestPersonDeletion struct {
		DeletionID string
		GroupID    string
	}
	// RecordDeletionStep records that a saga step's side effects are done. Recording
	// StepPurgePhotos names the external targets the person must still be deleted from.
	RecordDeletionStep struct {
		Step    Step
		Targets []string
	}
	// ConfirmTargets records that external targets deleted the person; confirming a target
	// that is not pending is a no-op.
	ConfirmTargets struct {
		Targets  []string
		Attempts int
	}
	// FailPersonDeletion ends a saga attempt after its retry budget.
	FailPersonDeletion struct {
		Step     Step
		Code     string
		Message  string
		Targets  []string // the external targets that refused, if any
		Attempts int
	}
	// RetryPersonDeletion resumes a failed deletion at its failed step.
	RetryPersonDeletion struct{}
	// CancelPersonDeletion stops a deletion that has not removed anything yet.
	CancelPersonDeletion struct{ DeletionID string }
	// EndBatchedDeletion ends a person whose steps batch Batch recorded: deleted when Code is
	// empty, else failed at Step with Code. It is what the batch saga decides for a person it could not end
	// with the rest of its batch (the person's subject moved on). Ending a person that is no
	// longer in that batch's deletion is a no-op: the batch's record is a redelivery, or the person
	// ended otherwise (a failure, a re-creation after the end).
	EndBatchedDeletion struct {
		DeletionID, Batch string
		Step              Step
		Code, Message     string // set: the person failed at Step
	}
)

// Decide returns the events cmd produces on this person, or why it is refused. No events and no
// error means the command is already satisfied (idempotent repeat).
func (p *Person) Decide(cmd any) ([]any, error) {
	switch c := cmd.(type) {
	case CreatePerson:
		return p.create(c)
	case RequestPersonDeletion:
		return p.requestDeletion(c)
	case RecordDeletionStep:
		return p.recordStep(c)
	case ConfirmTargets:
		return p.confirmTargets(c)
	case FailPersonDeletion:
		if p.status != StatusDeleting {
			return nil, ErrNotDeleting
		}
		if p.failed {
			return nil, nil
		}
		return []any{events.PersonDeletionFailed{PersonID: p.id, DeletionID: p.deletion, Code: c.Code, Step: string(c.Step),
			Message: c.Message, Targets: c.Targets, Attempts: c.Attempts}}, nil
	case EndBatchedDeletion:
		if p.status != StatusDeleting || p.deletion != c.DeletionID || p.batch != c.Batch || p.batch == "" || p.failed {
			return nil, nil
		}
		if c.Code != "" {
			return []any{events.PersonDeletionFailed{PersonID: p.id, DeletionID: p.deletion, Code: c.Code, Step: string(c.Step), Message: c.Message}}, nil
		}
		return []any{events.PersonDeleted{PersonID: p.id, DeletionID: p.deletion}}, nil
	case CancelPersonDeletion:
		if p.status != StatusDeleting || p.deletion != c.DeletionID {
			return nil, ErrNotDeleting
		}
		if p.next != StepUnbindPermissions {
			return nil, ErrDeletionUnderway
		}
		return []any{events.PersonDeletionCancelled{PersonID: p.id, DeletionID: p.deletion}}, nil
	case RetryPersonDeletion:
		if p.status != StatusDeleting {
			return nil, ErrNotDeleting
		}
		if !p.failed {
			return nil, ErrNotFailed
		}
		return []any{events.PersonDeletionRequested{PersonID: p.id, DeletionID: p.deletion, ResumeAt: string(p.next),
			PermissionGroupIDs: p.PermissionGroupIDs(), Faces: p.Faces()}}, nil
	case UnbindPermissionGroup:
		// Allowed while the person is being deleted too: the permission group's deletion must not
		// wait for (or be stuck behind a failed) person deletion, and an early unbind only
		// shortens the list that step 2 of the person's saga unbinds.
		if !slices.Contains(p.permissions, c.PermissionGroupID) {
			return nil, nil
		}
		return []any{events.PermissionGroupUnbound{PersonID: p.id, PermissionGroupID: c.PermissionGroupID}}, nil
	}
	if err := p.mustBeActive(); err != nil {
		return nil, err
	}
	switch c := cmd.(type) {
	case AddPersonToGroup:
		if err := ValidateID(c.GroupID); err != nil {
			return nil, err
		}
		if slices.Contains(p.groups, c.GroupID) {
			return nil, ErrAlreadyInGroup
		}
		if len(p.groups) >= MaxGroupsPerPerson {
			return nil, ErrTooManyGroups
		}
		return []any{events.PersonAddedToGroup{PersonID: p.id, GroupID: c.GroupID}}, nil
	case RemovePersonFromGroup:
		if !slices.Contains(p.groups, c.GroupID) {
			return nil, ErrNotInGroup
		}
		return []any{events.PersonRemovedFromGroup{PersonID: p.id, GroupID: c.GroupID}}, nil
	case AddFace:
		if err := validateFaces(append(p.Faces(), c.Face)); err != nil {
			return nil, err
		}
		return []any{events.FaceAdded{PersonID: p.id, Face: c.Face}}, nil
	case DeleteFace:
		if !slices.ContainsFunc(p.faces, func(f events.Face) bool { return f.FaceID == c.FaceID }) {
			return nil, ErrFaceNotFound
		}
		return []any{events.FaceDeleted{PersonID: p.id, FaceID: c.FaceID}}, nil
	case BindPermissionGroup:
		if err := ValidateID(c.PermissionGroupID); err != nil {
			return nil, err
		}
		if slices.Contains(p.permissions, c.PermissionGroupID) {
			return nil, nil
		}
		return []any{events.PermissionGroupBound{PersonID: p.id, PermissionGroupID: c.PermissionGroupID}}, nil
	}
	return nil, fmt.Errorf("%w: %T", ErrUnknownCommand, cmd)
}

func (p *Person) mustBeActive() error {
	switch p.status {
	case StatusActive:
		return nil
	case StatusDeleting:
		return ErrPersonDeleting
	default:
		return ErrPersonNotFound
	}
}

func (p *Person) create(c CreatePerson) ([]any, error) {
	if err := ValidateID(p.id); err != nil {
		return nil, err
	}
	switch p.status {
	case StatusActive:
		return nil, ErrPersonExists
	case StatusDeleting:
		return nil, ErrPersonDeleting
	}
	if len(c.GroupIDs) > MaxGroupsPerPerson {
		return nil, ErrTooManyGroups
	}
	if err := ValidateIDs(c.GroupIDs); err != nil {
		return nil, fmt.Errorf("group_ids %w", err)
	}
	if err := ValidateIDs(c.PermissionGroupIDs); err != nil {
		return nil, fmt.Errorf("permission_group_ids %w", err)
	}
	if err := validateFaces(c.Faces); err != nil {
		return nil, err
	}
	return []any{events.PersonCreated{
		PersonID: p.id, Name: c.Name,
		GroupIDs: nonNil(c.GroupIDs), PermissionGroupIDs: nonNil(c.PermissionGroupIDs), Faces: nonNil(c.Faces),
		Profile: c.Profile,
	}}, nil
}

func validateFaces(faces []events.Face) error {
	if len(faces) > MaxFacesPerPerson {
		return ErrTooManyFaces
	}
	seen := map[string]bool{}
	for _, f := range faces {
		if err := ValidateID(f.FaceID); err != nil {
			return fmt.Errorf("face id %q: %w", f.FaceID, err)
		}
		if f.PhotoKey == "" {
			return ErrNoPhoto
		}
		if seen[f.FaceID] {
			return fmt.Errorf("face id %q: %w", f.FaceID, ErrDuplicateID)
		}
		seen[f.FaceID] = true
	}
	return nil
}

func (p *Person) requestDeletion(c RequestPersonDeletion) ([]any, error) {
	if c.DeletionID == "" {
		return nil, fmt.Errorf("deletion id: %w", ErrIDEmpty)
	}
	switch p.status {
	case StatusAbsent, StatusDeleted:
		return nil, ErrPersonNotFound
	case StatusDeleting:
		if c.DeletionID == p.deletion {
			return nil, nil
		}
		return []any{events.PersonDeletionRequested{PersonID: p.id, DeletionID: c.DeletionID, Joins: p.deletion}}, nil
	}
	if c.GroupID != "" {
		if !slices.Contains(p.groups, c.GroupID) {
			return nil, ErrNotInGroup
		}
		if len(p.groups) > 1 {
			return []any{events.PersonRemovedFromGroup{PersonID: p.id, GroupID: c.GroupID, DeletionID: c.DeletionID}}, nil
		}
	}
	return []any{events.PersonDeletionRequested{PersonID: p.id, DeletionID: c.DeletionID,
		PermissionGroupIDs: p.PermissionGroupIDs(), Faces: p.Faces()}}, nil
}

func (p *Person) recordStep(c RecordDeletionStep) ([]any, error) {
	if p.status == StatusDeleted {
		return nil, nil // the saga finished: a redelivered step is already done
	}
	if p.status != StatusDeleting {
		return nil, ErrNotDeleting
	}
	if c.Step.index() < 0 {
		return nil, fmt.Errorf("%w: unknown step %q", ErrStepOutOfOrder, c.Step)
	}
	if c.Step.index() < p.next.index() {
		return nil, nil
	}
	if c.Step != p.next {
		return nil, fmt.Errorf("%w: %s before %s", ErrStepOutOfOrder, c.Step, p.next)
	}
	d := p.deletion
	switch c.Step {
	case StepUnbindPermissions:
		return []any{events.PermissionGroupsUnbound{DeletionID: d, Persons: []events.PersonPermissionGroups{
			{PersonID: p.id, PermissionGroupIDs: nonNil(p.PermissionGroupIDs())}}}}, nil
	case StepPurgeFaces:
		return []any{events.FacesPurged{DeletionID: d, Persons: []events.PersonFaces{{PersonID: p.id, FaceIDs: FaceIDs(p.faces)}}}}, nil
	case StepPurgePhotos:
		return []any{events.PhotosPurged{DeletionID: d, Persons: []events.PersonPhotos{{PersonID: p.id, PhotoKeys: PhotoKeys(p.faces)}},
			Targets: slices.Clone(c.Targets)}}, nil
	case StepDeleteFromTargets:
		// Targets confirm one by one (ConfirmTargets); the step is not recorded as a whole.
		return nil, fmt.Errorf("%w: %s is recorded by ConfirmTargets", ErrStepOutOfOrder, c.Step)
	default:
		return []any{events.PersonDeleted{PersonID: p.id, DeletionID: d}}, nil
	}
}

func (p *Person) confirmTargets(c ConfirmTargets) ([]any, error) {
	if p.status == StatusDeleted {
		return nil, nil // a redelivered confirmation after the end
	}
	if p.status != StatusDeleting {
		return nil, ErrNotDeleting
	}
	if p.next != StepDeleteFromTargets {
		if p.next.index() > StepDeleteFromTargets.index() {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: %s before %s", ErrStepOutOfOrder, StepDeleteFromTargets, p.next)
	}
	var confirmed []string
	for _, t := range c.Targets {
		if slices.Contains(p.targets, t) && !slices.Contains(confirmed, t) {
			confirmed = append(confirmed, t)
		}
	}
	if len(confirmed) == 0 {
		return nil, nil
	}
	remaining := slices.DeleteFunc(slices.Clone(p.targets), func(t string) bool { return slices.Contains(confirmed, t) })
	return []any{events.PersonRemovedFromTargets{PersonID: p.id, DeletionID: p.deletion, Targets: confirmed,
		Remaining: remaining, Attempts: c.Attempts}}, nil
}

// Apply moves the person's state by one event.
func (p *Person) Apply(e any) {
	switch e := e.(type) {
	case events.PersonCreated:
		*p = Person{id: p.id, status: StatusActive, name: e.Name,
			groups: slices.Clone(e.GroupIDs), permissions: slices.Clone(e.PermissionGroupIDs), faces: slices.Clone(e.Faces)}
	case events.PersonAddedToGroup:
		p.groups = append(p.groups, e.GroupID)
	case events.PersonRemovedFromGroup:
		p.groups = slices.DeleteFunc(p.groups, func(g string) bool { return g == e.GroupID })
	case events.FaceAdded:
		p.faces = append(p.faces, e.Face)
	case events.FaceDeleted:
		p.faces = slices.DeleteFunc(p.faces, func(f events.Face) bool { return f.FaceID == e.FaceID })
	case events.PermissionGroupBound:
		p.permissions = append(p.permissions, e.PermissionGroupID)
	case events.PermissionGroupUnbound:
		p.permissions = slices.DeleteFunc(p.permissions, func(g string) bool { return g == e.PermissionGroupID })
	case events.PersonDeletionRequested:
		if e.Joins != "" {
			return
		}
		p.status, p.deletion, p.failed, p.batch = StatusDeleting, e.DeletionID, false, e.Batch
		p.next = StepUnbindPermissions
		if e.ResumeAt != "" {
			p.next = Step(e.ResumeAt)
		}
	case events.PermissionGroupsUnbound:
		if lists(e.Persons, p.id, func(x events.PersonPermissionGroups) string { return x.PersonID }) {
			p.permissions, p.next = nil, StepPurgeFaces
		}
	case events.FacesPurged:
		if lists(e.Persons, p.id, func(x events.PersonFaces) string { return x.PersonID }) {
			p.next = StepPurgePhotos
		}
	case events.PhotosPurged:
		if lists(e.Persons, p.id, func(x events.PersonPhotos) string { return x.PersonID }) {
			p.faces, p.next, p.targets = nil, StepDeletePerson, slices.Clone(e.Targets)
			if len(e.Targets) > 0 {
				p.next = StepDeleteFromTargets
			}
		}
	case events.PersonRemovedFromTargets:
		p.targets = slices.DeleteFunc(p.targets, func(t string) bool { return slices.Contains(e.Targets, t) })
		if len(p.targets) == 0 {
			p.next = StepDeletePerson
		}
	case events.PersonDeletionFailed:
		p.failed = true
		if e.Step != "" {
			// A batch records its steps on its own subject: the failure says where the person
			// stopped, which is where a retry resumes (the per-person path is there already).
			p.next = Step(e.Step)
		}
	case events.PersonDeletionCancelled:
		p.status, p.deletion, p.next, p.failed, p.batch = StatusActive, "", "", false, ""
	case events.PersonDeleted:
		*p = Person{id: p.id, status: StatusDeleted}
	}
}

// lists reports whether a step event's persons include id.
func lists[T any](persons []T, id string, personID func(T) string) bool {
	return slices.ContainsFunc(persons, func(x T) bool { return personID(x) == id })
}

// FaceIDs returns the ids of faces, in order.
func FaceIDs(faces []events.Face) []string {
	ids := make([]string, len(faces))
	for i, f := range faces {
		ids[i] = f.FaceID
	}
	return ids
}

// PhotoKeys returns the photo keys of faces, in order.
func PhotoKeys(faces []events.Face) []string {
	keys := make([]string, len(faces))
	for i, f := range faces {
		keys[i] = f.PhotoKey
	}
	return keys
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// PersonSnapshot is a person's state as a read model holds it, for deciding without replaying
// the person's events. Version is the stream sequence of the person's last event: an append
// decided from a snapshot expects it, so a stale snapshot can never win.
type PersonSnapshot struct {
	Status             PersonStatus
	DeletionID         string
	NextStep           Step
	GroupIDs           []string
	PermissionGroupIDs []string
	Faces              []events.Face
}

// UnmarshalPerson rebuilds a person from a snapshot (the storage constructor).
func UnmarshalPerson(id string, s PersonSnapshot) *Person {
	p := &Person{id: id, status: s.Status, groups: slices.Clone(s.GroupIDs),
		permissions: slices.Clone(s.PermissionGroupIDs), faces: slices.Clone(s.Faces)}
	if s.Status == StatusDeleting {
		p.deletion, p.next = s.DeletionID, s.NextStep
	}
	return p
}
