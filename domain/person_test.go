package domain_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

// ---- fixtures -------------------------------------------------------------------------------

const (
	pid = "person-1"
	d1  = "del-1"
	d2  = "del-2"
)

var sealedName = events.Sealed("c2VhbGVkLW5hbWU=")

func face(id string) events.Face { return events.Face{FaceID: id, PhotoKey: "photos/" + id + ".jpg"} }

// manyIDs returns prefix1..prefixN.
func manyIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return ids
}

// manyFaces returns faces f1..fN.
func manyFaces(n int) []events.Face {
	fs := make([]events.Face, n)
	for i, id := range manyIDs("f", n) {
		fs[i] = face(id)
	}
	return fs
}

// history flattens events and []any histories into one history, oldest first.
func history(parts ...any) []any {
	h := []any{}
	for _, p := range parts {
		if s, ok := p.([]any); ok {
			h = append(h, s...)
		} else {
			h = append(h, p)
		}
	}
	return h
}

// personCreated is a PersonCreated as Decide produces it (slices never nil).
func personCreated(groups, perms []string, faces ...events.Face) events.PersonCreated {
	if groups == nil {
		groups = []string{}
	}
	if perms == nil {
		perms = []string{}
	}
	if faces == nil {
		faces = []events.Face{}
	}
	return events.PersonCreated{PersonID: pid, Name: sealedName, GroupIDs: groups, PermissionGroupIDs: perms, Faces: faces}
}

func deletionRequested(d string) events.PersonDeletionRequested {
	return events.PersonDeletionRequested{PersonID: pid, DeletionID: d}
}

func deletionJoined(d, running string) events.PersonDeletionRequested {
	return events.PersonDeletionRequested{PersonID: pid, DeletionID: d, Joins: running}
}

func deletionResumed(d string, at domain.Step) events.PersonDeletionRequested {
	return events.PersonDeletionRequested{PersonID: pid, DeletionID: d, ResumeAt: string(at)}
}

func deletionFailed(step domain.Step) events.PersonDeletionFailed {
	return events.PersonDeletionFailed{PersonID: pid, DeletionID: d1, Code: "UPSTREAM", Step: string(step), Message: "boom"}
}

func failDeletion(step domain.Step) domain.FailPersonDeletion {
	return domain.FailPersonDeletion{Step: step, Code: "UPSTREAM", Message: "boom"}
}

func addedToGroup(g string) events.PersonAddedToGroup {
	return events.PersonAddedToGroup{PersonID: pid, GroupID: g}
}

func removedFromGroup(g string) events.PersonRemovedFromGroup {
	return events.PersonRemovedFromGroup{PersonID: pid, GroupID: g}
}

func faceAdded(id string) events.FaceAdded { return events.FaceAdded{PersonID: pid, Face: face(id)} }

func faceDeleted(id string) events.FaceDeleted { return events.FaceDeleted{PersonID: pid, FaceID: id} }

func permissionBound(pg string) events.PermissionGroupBound {
	return events.PermissionGroupBound{PersonID: pid, PermissionGroupID: pg}
}

// unboundStep, facesStep and photosStep are step events of one person as its own subject
// records them (Decide): a batch of one, a nil list recorded empty.
func unboundStep(p, d string, ids []string) events.PermissionGroupsUnbound {
	return events.PermissionGroupsUnbound{DeletionID: d, Persons: []events.PersonPermissionGroups{{PersonID: p, PermissionGroupIDs: orEmpty(ids)}}}
}

func facesStep(p, d string, ids []string) events.FacesPurged {
	return events.FacesPurged{DeletionID: d, Persons: []events.PersonFaces{{PersonID: p, FaceIDs: orEmpty(ids)}}}
}

func photosStep(p, d string, keys []string, targets ...string) events.PhotosPurged {
	return events.PhotosPurged{DeletionID: d, Persons: []events.PersonPhotos{{PersonID: p, PhotoKeys: orEmpty(keys)}}, Targets: targets}
}

func orEmpty(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

func step(s domain.Step) domain.RecordDeletionStep { return domain.RecordDeletionStep{Step: s} }

// The standard person: groups g1 g2, permission groups pg1 pg2, faces f1 f2; and its deletion d1.
var (
	created      = personCreated([]string{"g1", "g2"}, []string{"pg1", "pg2"}, face("f1"), face("f2"))
	unbound      = unboundStep(pid, d1, []string{"pg1", "pg2"})
	facesPurged  = facesStep(pid, d1, []string{"f1", "f2"})
	photosPurged = photosStep(pid, d1, []string{"photos/f1.jpg", "photos/f2.jpg"})
	personGone   = events.PersonDeleted{PersonID: pid, DeletionID: d1}

	active           = history(created)
	deleting         = history(active, deletionRequested(d1))
	afterUnbind      = history(deleting, unbound)
	afterFacesPurged = history(afterUnbind, facesPurged)
	afterPhotos      = history(afterFacesPurged, photosPurged)
	deleted          = history(afterPhotos, personGone)
)

// ---- runner ---------------------------------------------------------------------------------

type personCase struct {
	name  string
	id    string // the person's id; pid when empty
	given []any  // past events
	when  any    // the command
	then  []any  // expected events; empty means none
	err   error  // expected error, matched with errors.Is
}

// withSnapshots fills what a starting or resumed deletion records (the person's permission groups
// and faces at that moment, TestDeletionRecordsWhatItRemoves checks them) into expected events.
func withSnapshots(p *domain.Person, then []any) []any {
	out := make([]any, len(then))
	for i, e := range then {
		if r, ok := e.(events.PersonDeletionRequested); ok && r.Joins == "" && r.PermissionGroupIDs == nil && r.Faces == nil {
			r.PermissionGroupIDs, r.Faces = p.PermissionGroupIDs(), p.Faces()
			e = r
		}
		out[i] = e
	}
	return out
}

func TestDeletionRecordsWhatItRemoves(t *testing.T) {
	p := domain.PersonFromHistory(pid, history(personCreated([]string{"g1"}, []string{"door"}, face("f1")), faceAdded("f2")))
	got, err := p.Decide(domain.RequestPersonDeletion{DeletionID: d1})
	require.NoError(t, err)
	require.Equal(t, []any{events.PersonDeletionRequested{PersonID: pid, DeletionID: d1,
		PermissionGroupIDs: []string{"door"}, Faces: []events.Face{face("f1"), face("f2")}}}, got)
}

func runPersonCases(t *testing.T, cases []personCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		require.False(t, seen[tc.name], "duplicate case name %q", tc.name)
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			if id == "" {
				id = pid
			}
			// given
			p := domain.PersonFromHistory(id, tc.given)
			before := personStateOf(p)
			// when
			got, err := p.Decide(tc.when)
			// then
			require.Equal(t, before, personStateOf(p), "Decide must not change state")
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			if len(tc.then) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, withSnapshots(p, tc.then), got)
		})
	}
}

// personState is everything the accessors show, with empty slices as nil.
type personState struct {
	ID          string
	Status      domain.PersonStatus
	Exists      bool
	Groups      []string
	Permissions []string
	Faces       []events.Face
	Deletion    string
	Next        domain.Step
	Failed      bool
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func personStateOf(p *domain.Person) personState {
	d, next, failed := p.Deletion()
	return personState{
		ID: p.ID(), Status: p.Status(), Exists: p.Exists(),
		Groups: nilIfEmpty(p.GroupIDs()), Permissions: nilIfEmpty(p.PermissionGroupIDs()), Faces: nilIfEmpty(p.Faces()),
		Deletion: d, Next: next, Failed: failed,
	}
}

// ---- Decide ---------------------------------------------------------------------------------

func TestCreatePerson(t *testing.T) {
	full := domain.CreatePerson{
		Name: sealedName, GroupIDs: []string{"g1", "g2"}, PermissionGroupIDs: []string{"pg1", "pg2"},
		Faces: []events.Face{face("f1"), face("f2")},
	}
	withGroups := func(groups []string) domain.CreatePerson {
		return domain.CreatePerson{Name: sealedName, GroupIDs: groups}
	}
	withPerms := func(perms []string) domain.CreatePerson {
		return domain.CreatePerson{Name: sealedName, PermissionGroupIDs: perms}
	}
	withFaces := func(fs ...events.Face) domain.CreatePerson { return domain.CreatePerson{Name: sealedName, Faces: fs} }

	runPersonCases(t, []personCase{
		// new
		{name: "new person with memberships, bindings and faces", when: full, then: []any{created}},
		{name: "new person with only a name gets empty, non-nil lists", when: domain.CreatePerson{Name: sealedName},
			then: []any{personCreated(nil, nil)}},
		{name: "new person with empty lists", when: domain.CreatePerson{Name: sealedName, GroupIDs: []string{}, PermissionGroupIDs: []string{}, Faces: []events.Face{}},
			then: []any{personCreated(nil, nil)}},
		{name: "same id as group and permission group is fine", when: domain.CreatePerson{Name: sealedName, GroupIDs: []string{"x"}, PermissionGroupIDs: []string{"x"}},
			then: []any{personCreated([]string{"x"}, []string{"x"})}},
		{name: "person id with every legal symbol", id: "A-z_0%9@#&",
			when: domain.CreatePerson{Name: sealedName},
			then: []any{events.PersonCreated{PersonID: "A-z_0%9@#&", Name: sealedName, GroupIDs: []string{}, PermissionGroupIDs: []string{}, Faces: []events.Face{}}}},
		{name: "person id of 64 characters", id: strings.Repeat("p", 64),
			when: domain.CreatePerson{Name: sealedName},
			then: []any{events.PersonCreated{PersonID: strings.Repeat("p", 64), Name: sealedName, GroupIDs: []string{}, PermissionGroupIDs: []string{}, Faces: []events.Face{}}}},

		// exists
		{name: "exists", given: active, when: full, err: domain.ErrPersonExists},
		{name: "exists after changes", given: history(active, addedToGroup("g3"), faceDeleted("f1")), when: full, err: domain.ErrPersonExists},

		// recreate
		{name: "recreate after deleted", given: deleted,
			when: domain.CreatePerson{Name: "other", GroupIDs: []string{"g9"}, Faces: []events.Face{face("f9")}},
			then: []any{events.PersonCreated{PersonID: pid, Name: "other", GroupIDs: []string{"g9"}, PermissionGroupIDs: []string{}, Faces: []events.Face{face("f9")}}}},
		{name: "recreate with the same data after deleted", given: deleted, when: full, then: []any{created}},
		{name: "exists after recreate", given: history(deleted, created), when: full, err: domain.ErrPersonExists},

		// deleting
		{name: "while deleting", given: deleting, when: full, err: domain.ErrPersonDeleting},
		{name: "while deleting, midway", given: afterFacesPurged, when: full, err: domain.ErrPersonDeleting},
		{name: "while the deletion has failed", given: history(deleting, deletionFailed(domain.StepUnbindPermissions)), when: full, err: domain.ErrPersonDeleting},

		// faces
		{name: "five faces", when: withFaces(manyFaces(5)...), then: []any{personCreated(nil, nil, manyFaces(5)...)}},
		{name: "six faces", when: withFaces(manyFaces(6)...), err: domain.ErrTooManyFaces},
		{name: "duplicate face ids", when: withFaces(face("f1"), face("f2"), events.Face{FaceID: "f1", PhotoKey: "other.jpg"}), err: domain.ErrDuplicateID},
		{name: "face id with a dot", when: withFaces(face("f.1")), err: domain.ErrIDIllegal},
		{name: "face id with a wildcard", when: withFaces(face("f*")), err: domain.ErrIDIllegal},
		{name: "empty face id", when: withFaces(events.Face{PhotoKey: "p.jpg"}), err: domain.ErrIDEmpty},
		{name: "face id of 65 characters", when: withFaces(face(strings.Repeat("f", 65))), err: domain.ErrIDTooLong},
		{name: "face without a photo", when: withFaces(events.Face{FaceID: "f1"}), err: domain.ErrNoPhoto},

		// groups
		{name: "100 groups", when: withGroups(manyIDs("g", 100)), then: []any{personCreated(manyIDs("g", 100), nil)}},
		{name: "101 groups", when: withGroups(manyIDs("g", 101)), err: domain.ErrTooManyGroups},
		{name: "duplicate group ids", when: withGroups([]string{"g1", "g2", "g1"}), err: domain.ErrDuplicateID},
		{name: "group id with a dot", when: withGroups([]string{"g1", "g.2"}), err: domain.ErrIDIllegal},
		{name: "group id with a space", when: withGroups([]string{"g 1"}), err: domain.ErrIDIllegal},
		{name: "group id in chinese", when: withGroups([]string{"组"}), err: domain.ErrIDIllegal},
		{name: "empty group id", when: withGroups([]string{""}), err: domain.ErrIDEmpty},
		{name: "group id of 65 characters", when: withGroups([]string{strings.Repeat("g", 65)}), err: domain.ErrIDTooLong},

		// permission groups
		{name: "duplicate permission group ids", when: withPerms([]string{"pg1", "pg1"}), err: domain.ErrDuplicateID},
		{name: "permission group id with a wildcard", when: withPerms([]string{">"}), err: domain.ErrIDIllegal},
		{name: "empty permission group id", when: withPerms([]string{""}), err: domain.ErrIDEmpty},

		// person id
		{name: "person id of one hyphen", id: "-", when: full, then: []any{events.PersonCreated{PersonID: "-", Name: sealedName, GroupIDs: full.GroupIDs, PermissionGroupIDs: full.PermissionGroupIDs, Faces: full.Faces}}},
		{name: "person id with a dot", id: "p.1", when: full, err: domain.ErrIDIllegal},
		{name: "person id with a space", id: "p 1", when: full, err: domain.ErrIDIllegal},
		{name: "person id with a star", id: "p*", when: full, err: domain.ErrIDIllegal},
		{name: "person id with a greater-than", id: "p>", when: full, err: domain.ErrIDIllegal},
		{name: "person id with unicode", id: "pé", when: full, err: domain.ErrIDIllegal},
		{name: "person id of 65 characters", id: strings.Repeat("p", 65), when: full, err: domain.ErrIDTooLong},
	})
}

func TestPersonEmptyIDIsRefused(t *testing.T) {
	// given a person without an id; when it is created; then
	_, err := domain.PersonFromHistory("", nil).Decide(domain.CreatePerson{Name: sealedName})
	require.ErrorIs(t, err, domain.ErrIDEmpty)
}

func TestPersonGroupMembership(t *testing.T) {
	runPersonCases(t, []personCase{
		// add
		{name: "add to a new group", given: active, when: domain.AddPersonToGroup{GroupID: "g3"}, then: []any{addedToGroup("g3")}},
		{name: "add to a group given at creation", given: active, when: domain.AddPersonToGroup{GroupID: "g1"}, err: domain.ErrAlreadyInGroup},
		{name: "add to a group added before", given: history(active, addedToGroup("g3")), when: domain.AddPersonToGroup{GroupID: "g3"}, err: domain.ErrAlreadyInGroup},
		{name: "add back after removal", given: history(active, removedFromGroup("g1")), when: domain.AddPersonToGroup{GroupID: "g1"}, then: []any{addedToGroup("g1")}},
		{name: "add a person without groups", given: history(personCreated(nil, nil)), when: domain.AddPersonToGroup{GroupID: "g1"}, then: []any{addedToGroup("g1")}},
		{name: "add as the 100th group", given: history(personCreated(manyIDs("g", 99), nil)), when: domain.AddPersonToGroup{GroupID: "x"}, then: []any{addedToGroup("x")}},
		{name: "add as the 101st group", given: history(personCreated(manyIDs("g", 100), nil)), when: domain.AddPersonToGroup{GroupID: "x"}, err: domain.ErrTooManyGroups},
		{name: "add as the 101st group after adds", given: history(personCreated(manyIDs("g", 98), nil), addedToGroup("y"), addedToGroup("z")), when: domain.AddPersonToGroup{GroupID: "x"}, err: domain.ErrTooManyGroups},
		{name: "add with 100 groups after one removed", given: history(personCreated(manyIDs("g", 100), nil), removedFromGroup("g50")), when: domain.AddPersonToGroup{GroupID: "x"}, then: []any{addedToGroup("x")}},
		{name: "add to a group id with a dot", given: active, when: domain.AddPersonToGroup{GroupID: "g.3"}, err: domain.ErrIDIllegal},
		{name: "add to a group id with a wildcard", given: active, when: domain.AddPersonToGroup{GroupID: "*"}, err: domain.ErrIDIllegal},
		{name: "add to an empty group id", given: active, when: domain.AddPersonToGroup{GroupID: ""}, err: domain.ErrIDEmpty},
		{name: "add to a group id of 65 characters", given: active, when: domain.AddPersonToGroup{GroupID: strings.Repeat("g", 65)}, err: domain.ErrIDTooLong},

		// remove
		{name: "remove from a group", given: active, when: domain.RemovePersonFromGroup{GroupID: "g1"}, then: []any{removedFromGroup("g1")}},
		{name: "remove from a group added later", given: history(active, addedToGroup("g3")), when: domain.RemovePersonFromGroup{GroupID: "g3"}, then: []any{removedFromGroup("g3")}},
		{name: "remove from the last group keeps the person", given: history(personCreated([]string{"g1"}, nil)), when: domain.RemovePersonFromGroup{GroupID: "g1"}, then: []any{removedFromGroup("g1")}},
		{name: "remove from a group the person is not in", given: active, when: domain.RemovePersonFromGroup{GroupID: "g3"}, err: domain.ErrNotInGroup},
		{name: "remove twice", given: history(active, removedFromGroup("g1")), when: domain.RemovePersonFromGroup{GroupID: "g1"}, err: domain.ErrNotInGroup},
		{name: "remove a person without groups", given: history(personCreated(nil, nil)), when: domain.RemovePersonFromGroup{GroupID: "g1"}, err: domain.ErrNotInGroup},
		{name: "remove from an empty group id", given: active, when: domain.RemovePersonFromGroup{GroupID: ""}, err: domain.ErrNotInGroup},
	})
}

func TestPersonFaces(t *testing.T) {
	runPersonCases(t, []personCase{
		// add
		{name: "add a face", given: active, when: domain.AddFace{Face: face("f3")}, then: []any{faceAdded("f3")}},
		{name: "add a first face", given: history(personCreated(nil, nil)), when: domain.AddFace{Face: face("f1")}, then: []any{faceAdded("f1")}},
		{name: "add a fifth face", given: history(personCreated(nil, nil, manyFaces(4)...)), when: domain.AddFace{Face: face("x")}, then: []any{faceAdded("x")}},
		{name: "add a sixth face", given: history(personCreated(nil, nil, manyFaces(5)...)), when: domain.AddFace{Face: face("x")}, err: domain.ErrTooManyFaces},
		{name: "add a sixth face after adds", given: history(personCreated(nil, nil, manyFaces(3)...), faceAdded("y"), faceAdded("z")), when: domain.AddFace{Face: face("x")}, err: domain.ErrTooManyFaces},
		{name: "add a fifth face after one deleted", given: history(personCreated(nil, nil, manyFaces(5)...), faceDeleted("f3")), when: domain.AddFace{Face: face("x")}, then: []any{faceAdded("x")}},
		{name: "add a face id given at creation", given: active, when: domain.AddFace{Face: events.Face{FaceID: "f1", PhotoKey: "new.jpg"}}, err: domain.ErrDuplicateID},
		{name: "add a face id added before", given: history(active, faceAdded("f3")), when: domain.AddFace{Face: face("f3")}, err: domain.ErrDuplicateID},
		{name: "add a face id back after deletion", given: history(active, faceDeleted("f1")), when: domain.AddFace{Face: face("f1")}, then: []any{faceAdded("f1")}},
		{name: "add a face id with a dot", given: active, when: domain.AddFace{Face: face("f.3")}, err: domain.ErrIDIllegal},
		{name: "add an empty face id", given: active, when: domain.AddFace{Face: events.Face{PhotoKey: "p.jpg"}}, err: domain.ErrIDEmpty},
		{name: "add a face id of 65 characters", given: active, when: domain.AddFace{Face: face(strings.Repeat("f", 65))}, err: domain.ErrIDTooLong},
		{name: "add a face without a photo", given: active, when: domain.AddFace{Face: events.Face{FaceID: "f3"}}, err: domain.ErrNoPhoto},

		// delete
		{name: "delete a face given at creation", given: active, when: domain.DeleteFace{FaceID: "f1"}, then: []any{faceDeleted("f1")}},
		{name: "delete a face added later", given: history(active, faceAdded("f3")), when: domain.DeleteFace{FaceID: "f3"}, then: []any{faceDeleted("f3")}},
		{name: "delete the last face", given: history(personCreated(nil, nil, face("f1"))), when: domain.DeleteFace{FaceID: "f1"}, then: []any{faceDeleted("f1")}},
		{name: "delete an unknown face", given: active, when: domain.DeleteFace{FaceID: "f9"}, err: domain.ErrFaceNotFound},
		{name: "delete a face twice", given: history(active, faceDeleted("f1")), when: domain.DeleteFace{FaceID: "f1"}, err: domain.ErrFaceNotFound},
		{name: "delete from a person without faces", given: history(personCreated(nil, nil)), when: domain.DeleteFace{FaceID: "f1"}, err: domain.ErrFaceNotFound},
		{name: "delete an empty face id", given: active, when: domain.DeleteFace{FaceID: ""}, err: domain.ErrFaceNotFound},
	})
}

func TestBindPermissionGroup(t *testing.T) {
	runPersonCases(t, []personCase{
		{name: "bind", given: active, when: domain.BindPermissionGroup{PermissionGroupID: "pg3"}, then: []any{permissionBound("pg3")}},
		{name: "bind a person without bindings", given: history(personCreated(nil, nil)), when: domain.BindPermissionGroup{PermissionGroupID: "pg1"}, then: []any{permissionBound("pg1")}},
		{name: "bind again a group bound at creation is a no-op", given: active, when: domain.BindPermissionGroup{PermissionGroupID: "pg1"}},
		{name: "bind again a group bound later is a no-op", given: history(active, permissionBound("pg3")), when: domain.BindPermissionGroup{PermissionGroupID: "pg3"}},
		{name: "bind a permission group id equal to a group id", given: active, when: domain.BindPermissionGroup{PermissionGroupID: "g1"}, then: []any{permissionBound("g1")}},
		{name: "bind an id with a dot", given: active, when: domain.BindPermissionGroup{PermissionGroupID: "pg.3"}, err: domain.ErrIDIllegal},
		{name: "bind an id with a space", given: active, when: domain.BindPermissionGroup{PermissionGroupID: "pg 3"}, err: domain.ErrIDIllegal},
		{name: "bind an empty id", given: active, when: domain.BindPermissionGroup{PermissionGroupID: ""}, err: domain.ErrIDEmpty},
		{name: "bind an id of 65 characters", given: active, when: domain.BindPermissionGroup{PermissionGroupID: strings.Repeat("p", 65)}, err: domain.ErrIDTooLong},
	})
}

// TestPersonCommandsNeedAnActivePerson runs every membership, face and binding command against
// every state that is not active.
func TestPersonCommandsNeedAnActivePerson(t *testing.T) {
	commands := []any{
		domain.AddPersonToGroup{GroupID: "g3"},
		domain.RemovePersonFromGroup{GroupID: "g1"},
		domain.AddFace{Face: face("f3")},
		domain.DeleteFace{FaceID: "f1"},
		domain.BindPermissionGroup{PermissionGroupID: "pg3"},
		domain.BindPermissionGroup{PermissionGroupID: "pg1"},
	}
	states := []struct {
		name  string
		given []any
		err   error
	}{
		{"absent", nil, domain.ErrPersonNotFound},
		{"deleting", deleting, domain.ErrPersonDeleting},
		{"deleting, joined", history(deleting, deletionJoined(d2, d1)), domain.ErrPersonDeleting},
		{"deleting, permissions unbound", afterUnbind, domain.ErrPersonDeleting},
		{"deleting, faces purged", afterFacesPurged, domain.ErrPersonDeleting},
		{"deleting, photos purged", afterPhotos, domain.ErrPersonDeleting},
		{"deletion failed", history(deleting, deletionFailed(domain.StepUnbindPermissions)), domain.ErrPersonDeleting},
		{"deletion retried", history(deleting, deletionFailed(domain.StepUnbindPermissions), deletionResumed(d1, domain.StepUnbindPermissions)), domain.ErrPersonDeleting},
		{"deleted", deleted, domain.ErrPersonNotFound},
	}
	var cases []personCase
	for _, s := range states {
		for _, c := range commands {
			cases = append(cases, personCase{name: fmt.Sprintf("%s: %T%+v", s.name, c, c), given: s.given, when: c, err: s.err})
		}
	}
	runPersonCases(t, cases)
}

func TestPersonUnknownCommand(t *testing.T) {
	runPersonCases(t, []personCase{
		{name: "a group command", given: active, when: domain.CreateGroup{Name: "n"}, err: domain.ErrUnknownCommand},
		{name: "a pointer to a command", given: active, when: &domain.AddFace{Face: face("f3")}, err: domain.ErrUnknownCommand},
		{name: "nil", given: active, when: nil, err: domain.ErrUnknownCommand},
		{name: "a string", given: active, when: "delete", err: domain.ErrUnknownCommand},
	})
}

func TestRequestPersonDeletion(t *testing.T) {
	twoGroups := history(personCreated([]string{"g1", "g2"}, nil))
	oneGroup := history(personCreated([]string{"g1"}, nil))
	runPersonCases(t, []personCase{
		// whole person
		{name: "absent", when: domain.RequestPersonDeletion{DeletionID: d1}, err: domain.ErrPersonNotFound},
		{name: "deleted", given: deleted, when: domain.RequestPersonDeletion{DeletionID: d2}, err: domain.ErrPersonNotFound},
		{name: "active", given: active, when: domain.RequestPersonDeletion{DeletionID: d1}, then: []any{deletionRequested(d1)}},
		{name: "active without groups, faces or bindings", given: history(personCreated(nil, nil)), when: domain.RequestPersonDeletion{DeletionID: d1}, then: []any{deletionRequested(d1)}},
		{name: "active after recreate", given: history(deleted, created), when: domain.RequestPersonDeletion{DeletionID: d2}, then: []any{deletionRequested(d2)}},
		{name: "active after recreate, reusing the old deletion id", given: history(deleted, created), when: domain.RequestPersonDeletion{DeletionID: d1}, then: []any{deletionRequested(d1)}},

		// deleting: join or no-op
		{name: "deleting, another deletion joins", given: deleting, when: domain.RequestPersonDeletion{DeletionID: d2}, then: []any{deletionJoined(d2, d1)}},
		{name: "deleting midway, another deletion joins", given: afterFacesPurged, when: domain.RequestPersonDeletion{DeletionID: d2}, then: []any{deletionJoined(d2, d1)}},
		{name: "deleting, a group-scoped deletion joins", given: deleting, when: domain.RequestPersonDeletion{DeletionID: d2, GroupID: "g1"}, then: []any{deletionJoined(d2, d1)}},
		{name: "deletion failed, another deletion joins", given: history(deleting, deletionFailed(domain.StepPurgeFaces)), when: domain.RequestPersonDeletion{DeletionID: d2}, then: []any{deletionJoined(d2, d1)}},
		{name: "deleting, same deletion id is a no-op", given: deleting, when: domain.RequestPersonDeletion{DeletionID: d1}},
		{name: "deleting midway, same deletion id is a no-op", given: afterPhotos, when: domain.RequestPersonDeletion{DeletionID: d1}},
		{name: "deleting and joined, same deletion id is a no-op", given: history(deleting, deletionJoined(d2, d1)), when: domain.RequestPersonDeletion{DeletionID: d1}},
		{name: "deletion failed, same deletion id is a no-op", given: history(deleting, deletionFailed(domain.StepPurgeFaces)), when: domain.RequestPersonDeletion{DeletionID: d1}},
		{name: "deletion retried, same deletion id is a no-op", given: history(deleting, deletionFailed(domain.StepUnbindPermissions), deletionResumed(d1, domain.StepUnbindPermissions)), when: domain.RequestPersonDeletion{DeletionID: d1}},
		{name: "deleting, same deletion id scoped to a group is a no-op", given: deleting, when: domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g1"}},

		// group-scoped
		{name: "group-scoped with other groups removes only the membership", given: twoGroups, when: domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g1"},
			then: []any{events.PersonRemovedFromGroup{PersonID: pid, GroupID: "g1", DeletionID: d1}}},
		{name: "group-scoped on the second of two groups", given: twoGroups, when: domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g2"},
			then: []any{events.PersonRemovedFromGroup{PersonID: pid, GroupID: "g2", DeletionID: d1}}},
		{name: "group-scoped with groups added later", given: history(oneGroup, addedToGroup("g2")), when: domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g2"},
			then: []any{events.PersonRemovedFromGroup{PersonID: pid, GroupID: "g2", DeletionID: d1}}},
		{name: "group-scoped on the last group deletes the person", given: oneGroup, when: domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g1"},
			then: []any{deletionRequested(d1)}},
		{name: "group-scoped on the group left after a removal deletes the person", given: history(twoGroups, removedFromGroup("g2")), when: domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g1"},
			then: []any{deletionRequested(d1)}},
		{name: "group-scoped on the group left after a group-scoped deletion deletes the person",
			given: history(twoGroups, events.PersonRemovedFromGroup{PersonID: pid, GroupID: "g1", DeletionID: d1}),
			when:  domain.RequestPersonDeletion{DeletionID: d2, GroupID: "g2"}, then: []any{deletionRequested(d2)}},
		{name: "group-scoped, not in the group", given: twoGroups, when: domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g3"}, err: domain.ErrNotInGroup},
		{name: "group-scoped, removed from the group before", given: history(twoGroups, removedFromGroup("g1")), when: domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g1"}, err: domain.ErrNotInGroup},
		{name: "group-scoped, person without groups", given: history(personCreated(nil, nil)), when: domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g1"}, err: domain.ErrNotInGroup},
		{name: "group-scoped, absent", when: domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g1"}, err: domain.ErrPersonNotFound},
		{name: "group-scoped, deleted", given: deleted, when: domain.RequestPersonDeletion{DeletionID: d2, GroupID: "g1"}, err: domain.ErrPersonNotFound},
	})
}

func TestRecordDeletionStep(t *testing.T) {
	noneCreated := personCreated(nil, nil)
	var redeliveredAfterDeleted []personCase
	for _, s := range domain.Steps {
		redeliveredAfterDeleted = append(redeliveredAfterDeleted,
			personCase{name: "deleted, redelivered " + string(s), given: deleted, when: step(s)})
	}
	runPersonCases(t, append([]personCase{
		// each step in order, carrying the lists from state
		{name: "unbind permission groups", given: deleting, when: step(domain.StepUnbindPermissions), then: []any{unbound}},
		{name: "purge faces", given: afterUnbind, when: step(domain.StepPurgeFaces), then: []any{facesPurged}},
		{name: "purge photos", given: afterFacesPurged, when: step(domain.StepPurgePhotos), then: []any{photosPurged}},
		{name: "delete person", given: afterPhotos, when: step(domain.StepDeletePerson), then: []any{personGone}},

		// the lists follow later changes
		{name: "unbind includes bindings made after creation", given: history(active, permissionBound("pg3"), deletionRequested(d1)), when: step(domain.StepUnbindPermissions),
			then: []any{unboundStep(pid, d1, []string{"pg1", "pg2", "pg3"})}},
		{name: "purge faces follows added and deleted faces", given: history(active, faceAdded("f3"), faceDeleted("f1"), deletionRequested(d1), unbound), when: step(domain.StepPurgeFaces),
			then: []any{facesStep(pid, d1, []string{"f2", "f3"})}},
		{name: "purge photos follows added and deleted faces", given: history(active, faceAdded("f3"), faceDeleted("f1"), deletionRequested(d1), unbound, facesPurged), when: step(domain.StepPurgePhotos),
			then: []any{photosStep(pid, d1, []string{"photos/f2.jpg", "photos/f3.jpg"})}},
		{name: "purge photos uses each face's own photo key", given: history(personCreated(nil, nil, events.Face{FaceID: "a", PhotoKey: "k/1"}, events.Face{FaceID: "b", PhotoKey: "k/2"}), deletionRequested(d1), unbound, facesPurged), when: step(domain.StepPurgePhotos),
			then: []any{photosStep(pid, d1, []string{"k/1", "k/2"})}},
		{name: "unbind with no bindings", given: history(noneCreated, deletionRequested(d1)), when: step(domain.StepUnbindPermissions),
			then: []any{unboundStep(pid, d1, []string{})}},
		{name: "purge faces with no faces", given: history(noneCreated, deletionRequested(d1), unbound), when: step(domain.StepPurgeFaces),
			then: []any{facesStep(pid, d1, []string{})}},
		{name: "purge photos with no faces", given: history(noneCreated, deletionRequested(d1), unbound, facesPurged), when: step(domain.StepPurgePhotos),
			then: []any{photosStep(pid, d1, []string{})}},

		// the running deletion's id, not a joiner's
		{name: "steps carry the running deletion id when another joined", given: history(deleting, deletionJoined(d2, d1)), when: step(domain.StepUnbindPermissions), then: []any{unbound}},
		{name: "delete carries the running deletion id when another joined", given: history(afterPhotos, deletionJoined(d2, d1)), when: step(domain.StepDeletePerson), then: []any{personGone}},
		{name: "group-scoped deletion of the last group runs the saga", given: history(personCreated([]string{"g1"}, []string{"pg1"}), deletionRequested(d2)), when: step(domain.StepUnbindPermissions),
			then: []any{unboundStep(pid, d2, []string{"pg1"})}},
		{name: "second life's deletion carries its own id and lists",
			given: history(deleted, personCreated([]string{"g9"}, []string{"pg9"}, face("f9")), deletionRequested(d2)), when: step(domain.StepUnbindPermissions),
			then: []any{unboundStep(pid, d2, []string{"pg9"})}},
		{name: "second life's photos", given: history(deleted, personCreated(nil, nil, face("f9")), deletionRequested(d2),
			unboundStep(pid, d2, []string{}), facesStep(pid, d2, []string{"f9"})),
			when: step(domain.StepPurgePhotos), then: []any{photosStep(pid, d2, []string{"photos/f9.jpg"})}},

		// repeating a done step
		{name: "unbind again after unbind", given: afterUnbind, when: step(domain.StepUnbindPermissions)},
		{name: "unbind again after faces purged", given: afterFacesPurged, when: step(domain.StepUnbindPermissions)},
		{name: "unbind again after photos purged", given: afterPhotos, when: step(domain.StepUnbindPermissions)},
		{name: "purge faces again after faces purged", given: afterFacesPurged, when: step(domain.StepPurgeFaces)},
		{name: "purge faces again after photos purged", given: afterPhotos, when: step(domain.StepPurgeFaces)},
		{name: "purge photos again after photos purged", given: afterPhotos, when: step(domain.StepPurgePhotos)},

		// skipping ahead
		{name: "purge faces before unbind", given: deleting, when: step(domain.StepPurgeFaces), err: domain.ErrStepOutOfOrder},
		{name: "purge photos before unbind", given: deleting, when: step(domain.StepPurgePhotos), err: domain.ErrStepOutOfOrder},
		{name: "delete person before unbind", given: deleting, when: step(domain.StepDeletePerson), err: domain.ErrStepOutOfOrder},
		{name: "purge photos before purge faces", given: afterUnbind, when: step(domain.StepPurgePhotos), err: domain.ErrStepOutOfOrder},
		{name: "delete person before purge faces", given: afterUnbind, when: step(domain.StepDeletePerson), err: domain.ErrStepOutOfOrder},
		{name: "delete person before purge photos", given: afterFacesPurged, when: step(domain.StepDeletePerson), err: domain.ErrStepOutOfOrder},
		{name: "unknown step", given: deleting, when: step("bogus"), err: domain.ErrStepOutOfOrder},
		{name: "empty step", given: afterUnbind, when: step(""), err: domain.ErrStepOutOfOrder},

		// not deleting
		{name: "active", given: active, when: step(domain.StepUnbindPermissions), err: domain.ErrNotDeleting},
		{name: "active after recreate", given: history(deleted, created), when: step(domain.StepUnbindPermissions), err: domain.ErrNotDeleting},
		{name: "absent", when: step(domain.StepUnbindPermissions), err: domain.ErrNotDeleting},
		{name: "active after a group-scoped deletion", given: history(active, events.PersonRemovedFromGroup{PersonID: pid, GroupID: "g1", DeletionID: d1}), when: step(domain.StepUnbindPermissions), err: domain.ErrNotDeleting},
	}, redeliveredAfterDeleted...))
}

// TestPersonDeletionStepsRunInOrder walks the saga through domain.Steps (without external
// targets, whose step is skipped): at each point, every later step is refused, the next one
// produces one event, and every done one produces none.
func TestPersonDeletionStepsRunInOrder(t *testing.T) {
	steps := slices.DeleteFunc(slices.Clone(domain.Steps), func(s domain.Step) bool { return s == domain.StepDeleteFromTargets })
	// given a person being deleted
	p := domain.PersonFromHistory(pid, deleting)
	for i, s := range steps {
		for _, later := range steps[i+1:] {
			got, err := p.Decide(step(later))
			require.ErrorIs(t, err, domain.ErrStepOutOfOrder, "%s before %s", later, s)
			require.Empty(t, got)
		}
		// when the next step is recorded
		got, err := p.Decide(step(s))
		require.NoError(t, err)
		require.Len(t, got, 1)
		p.Apply(got[0])
		// then it and every step before it are done
		for _, done := range steps[:i+1] {
			got, err := p.Decide(step(done))
			require.NoError(t, err)
			require.Empty(t, got, "%s after %s", done, s)
		}
	}
	require.Equal(t, domain.StatusDeleted, p.Status())
	require.Equal(t, []domain.Step{"unbind_permission_groups", "purge_faces", "purge_photos", "delete_from_targets", "delete_person"}, domain.Steps)
}

func TestFailAndRetryPersonDeletion(t *testing.T) {
	failedAtUnbind := history(deleting, deletionFailed(domain.StepUnbindPermissions))
	failedAtPhotos := history(afterFacesPurged, deletionFailed(domain.StepPurgePhotos))
	retriedAtPhotos := history(failedAtPhotos, deletionResumed(d1, domain.StepPurgePhotos))
	runPersonCases(t, []personCase{
		// fail
		{name: "fail at the first step", given: deleting, when: failDeletion(domain.StepUnbindPermissions), then: []any{deletionFailed(domain.StepUnbindPermissions)}},
		{name: "fail at purge photos", given: afterFacesPurged, when: failDeletion(domain.StepPurgePhotos), then: []any{deletionFailed(domain.StepPurgePhotos)}},
		{name: "fail at delete person", given: afterPhotos, when: failDeletion(domain.StepDeletePerson), then: []any{deletionFailed(domain.StepDeletePerson)}},
		{name: "fail carries the running deletion id when another joined", given: history(deleting, deletionJoined(d2, d1)), when: failDeletion(domain.StepUnbindPermissions), then: []any{deletionFailed(domain.StepUnbindPermissions)}},
		{name: "fail without a message", given: deleting, when: domain.FailPersonDeletion{Step: domain.StepUnbindPermissions, Code: "TIMEOUT"},
			then: []any{events.PersonDeletionFailed{PersonID: pid, DeletionID: d1, Code: "TIMEOUT", Step: string(domain.StepUnbindPermissions)}}},
		{name: "fail again is a no-op", given: failedAtUnbind, when: failDeletion(domain.StepUnbindPermissions)},
		{name: "fail again with another code is a no-op", given: failedAtUnbind, when: domain.FailPersonDeletion{Step: domain.StepUnbindPermissions, Code: "OTHER"}},
		{name: "fail when active", given: active, when: failDeletion(domain.StepUnbindPermissions), err: domain.ErrNotDeleting},
		{name: "fail when absent", when: failDeletion(domain.StepUnbindPermissions), err: domain.ErrNotDeleting},
		{name: "fail when deleted", given: deleted, when: failDeletion(domain.StepDeletePerson), err: domain.ErrNotDeleting},

		// retry
		{name: "retry resumes at the first step", given: failedAtUnbind, when: domain.RetryPersonDeletion{}, then: []any{deletionResumed(d1, domain.StepUnbindPermissions)}},
		{name: "retry resumes at purge faces", given: history(afterUnbind, deletionFailed(domain.StepPurgeFaces)), when: domain.RetryPersonDeletion{}, then: []any{deletionResumed(d1, domain.StepPurgeFaces)}},
		{name: "retry resumes at purge photos", given: failedAtPhotos, when: domain.RetryPersonDeletion{}, then: []any{deletionResumed(d1, domain.StepPurgePhotos)}},
		{name: "retry resumes at delete person", given: history(afterPhotos, deletionFailed(domain.StepDeletePerson)), when: domain.RetryPersonDeletion{}, then: []any{deletionResumed(d1, domain.StepDeletePerson)}},
		{name: "retry keeps the running deletion id when another joined", given: history(deleting, deletionJoined(d2, d1), deletionFailed(domain.StepUnbindPermissions)), when: domain.RetryPersonDeletion{},
			then: []any{deletionResumed(d1, domain.StepUnbindPermissions)}},
		{name: "retry when not failed", given: afterUnbind, when: domain.RetryPersonDeletion{}, err: domain.ErrNotFailed},
		{name: "retry twice", given: retriedAtPhotos, when: domain.RetryPersonDeletion{}, err: domain.ErrNotFailed},
		{name: "retry when active", given: active, when: domain.RetryPersonDeletion{}, err: domain.ErrNotDeleting},
		{name: "retry when absent", when: domain.RetryPersonDeletion{}, err: domain.ErrNotDeleting},
		{name: "retry when deleted", given: deleted, when: domain.RetryPersonDeletion{}, err: domain.ErrNotDeleting},

		// continuing after a retry
		{name: "after retry, the failed step runs", given: retriedAtPhotos, when: step(domain.StepPurgePhotos), then: []any{photosPurged}},
		{name: "after retry, a done step is a no-op", given: retriedAtPhotos, when: step(domain.StepPurgeFaces)},
		{name: "after retry, the first step is a no-op", given: retriedAtPhotos, when: step(domain.StepUnbindPermissions)},
		{name: "after retry, skipping ahead is refused", given: retriedAtPhotos, when: step(domain.StepDeletePerson), err: domain.ErrStepOutOfOrder},
		{name: "after retry and the failed step, the next step runs", given: history(retriedAtPhotos, photosPurged), when: step(domain.StepDeletePerson), then: []any{personGone}},
		{name: "after retry at the first step, it runs with the bindings", given: history(failedAtUnbind, deletionResumed(d1, domain.StepUnbindPermissions)), when: step(domain.StepUnbindPermissions), then: []any{unbound}},
		{name: "after retry, failing again is recorded", given: retriedAtPhotos, when: failDeletion(domain.StepPurgePhotos), then: []any{deletionFailed(domain.StepPurgePhotos)}},
		{name: "after a second failure, retry resumes again", given: history(retriedAtPhotos, deletionFailed(domain.StepPurgePhotos)), when: domain.RetryPersonDeletion{}, then: []any{deletionResumed(d1, domain.StepPurgePhotos)}},
		{name: "after retry and completion, a redelivered step is a no-op", given: history(retriedAtPhotos, photosPurged, personGone), when: step(domain.StepPurgePhotos)},
	})
}

// ---- Apply ----------------------------------------------------------------------------------

// TestPersonApplyFollowsDecide runs commands through Decide, applies what it produces, and checks
// the accessors, both on the live aggregate and on one rebuilt from the produced history.
func TestPersonApplyFollowsDecide(t *testing.T) {
	create := domain.CreatePerson{Name: sealedName, GroupIDs: []string{"g1", "g2"}, PermissionGroupIDs: []string{"pg1"}, Faces: []events.Face{face("f1"), face("f2")}}
	request := domain.RequestPersonDeletion{DeletionID: d1}
	activeState := personState{ID: pid, Status: domain.StatusActive, Exists: true,
		Groups: []string{"g1", "g2"}, Permissions: []string{"pg1"}, Faces: []events.Face{face("f1"), face("f2")}}
	deletingState := func(next domain.Step, failed bool) personState {
		s := activeState
		s.Status, s.Deletion, s.Next, s.Failed = domain.StatusDeleting, d1, next, failed
		return s
	}
	deletedState := personState{ID: pid, Status: domain.StatusDeleted}

	tests := []struct {
		name  string
		given []any // commands, each applied before the next
		then  personState
		n     int // events produced
	}{
		{name: "absent", then: personState{ID: pid}},
		{name: "created", given: []any{create}, then: activeState, n: 1},
		{name: "created empty", given: []any{domain.CreatePerson{Name: sealedName}}, then: personState{ID: pid, Status: domain.StatusActive, Exists: true}, n: 1},
		{name: "memberships, faces and bindings changed",
			given: []any{create,
				domain.AddPersonToGroup{GroupID: "g3"}, domain.RemovePersonFromGroup{GroupID: "g1"},
				domain.AddFace{Face: face("f3")}, domain.DeleteFace{FaceID: "f1"},
				domain.BindPermissionGroup{PermissionGroupID: "pg2"}, domain.BindPermissionGroup{PermissionGroupID: "pg2"}},
			then: personState{ID: pid, Status: domain.StatusActive, Exists: true,
				Groups: []string{"g2", "g3"}, Permissions: []string{"pg1", "pg2"}, Faces: []events.Face{face("f2"), face("f3")}},
			n: 6},
		{name: "removed from every group stays active", given: []any{create, domain.RemovePersonFromGroup{GroupID: "g1"}, domain.RemovePersonFromGroup{GroupID: "g2"}},
			then: func() personState { s := activeState; s.Groups = nil; return s }(), n: 3},
		{name: "deletion requested", given: []any{create, request}, then: deletingState(domain.StepUnbindPermissions, false), n: 2},
		{name: "deletion joined keeps the running deletion", given: []any{create, request, domain.RequestPersonDeletion{DeletionID: d2}},
			then: deletingState(domain.StepUnbindPermissions, false), n: 3},
		{name: "deletion requested twice", given: []any{create, request, request}, then: deletingState(domain.StepUnbindPermissions, false), n: 2},
		{name: "permission groups unbound", given: []any{create, request, step(domain.StepUnbindPermissions)},
			then: func() personState { s := deletingState(domain.StepPurgeFaces, false); s.Permissions = nil; return s }(), n: 3},
		{name: "faces purged keeps the faces for the photo step", given: []any{create, request, step(domain.StepUnbindPermissions), step(domain.StepPurgeFaces)},
			then: func() personState { s := deletingState(domain.StepPurgePhotos, false); s.Permissions = nil; return s }(), n: 4},
		{name: "photos purged", given: []any{create, request, step(domain.StepUnbindPermissions), step(domain.StepPurgeFaces), step(domain.StepPurgePhotos)},
			then: func() personState {
				s := deletingState(domain.StepDeletePerson, false)
				s.Permissions, s.Faces = nil, nil
				return s
			}(), n: 5},
		{name: "deleted", given: []any{create, request, step(domain.StepUnbindPermissions), step(domain.StepPurgeFaces), step(domain.StepPurgePhotos), step(domain.StepDeletePerson)},
			then: deletedState, n: 6},
		{name: "deleted, then a redelivered step", given: []any{create, request, step(domain.StepUnbindPermissions), step(domain.StepPurgeFaces), step(domain.StepPurgePhotos), step(domain.StepDeletePerson), step(domain.StepDeletePerson)},
			then: deletedState, n: 6},
		{name: "deletion failed", given: []any{create, request, failDeletion(domain.StepUnbindPermissions)}, then: deletingState(domain.StepUnbindPermissions, true), n: 3},
		{name: "deletion retried", given: []any{create, request, failDeletion(domain.StepUnbindPermissions), domain.RetryPersonDeletion{}},
			then: deletingState(domain.StepUnbindPermissions, false), n: 4},
		{name: "deletion failed midway and retried", given: []any{create, request, step(domain.StepUnbindPermissions), step(domain.StepPurgeFaces), failDeletion(domain.StepPurgePhotos), domain.RetryPersonDeletion{}},
			then: func() personState { s := deletingState(domain.StepPurgePhotos, false); s.Permissions = nil; return s }(), n: 6},
		{name: "deletion retried and finished", given: []any{create, request, step(domain.StepUnbindPermissions), step(domain.StepPurgeFaces), failDeletion(domain.StepPurgePhotos), domain.RetryPersonDeletion{}, step(domain.StepPurgePhotos), step(domain.StepDeletePerson)},
			then: deletedState, n: 8},
		{name: "group-scoped with other groups", given: []any{create, domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g1"}},
			then: func() personState { s := activeState; s.Groups = []string{"g2"}; return s }(), n: 2},
		{name: "group-scoped on every group", given: []any{create, domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g1"}, domain.RequestPersonDeletion{DeletionID: d1, GroupID: "g2"}},
			then: func() personState {
				s := deletingState(domain.StepUnbindPermissions, false)
				s.Groups = []string{"g2"}
				return s
			}(), n: 3},
		{name: "recreated after deleted", given: []any{create, request, step(domain.StepUnbindPermissions), step(domain.StepPurgeFaces), step(domain.StepPurgePhotos), step(domain.StepDeletePerson),
			domain.CreatePerson{Name: "other", GroupIDs: []string{"g9"}}},
			then: personState{ID: pid, Status: domain.StatusActive, Exists: true, Groups: []string{"g9"}}, n: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := domain.PersonFromHistory(pid, nil)
			var produced []any
			for _, cmd := range tt.given {
				got, err := p.Decide(cmd)
				require.NoError(t, err, "%T%+v", cmd, cmd)
				for _, e := range got {
					p.Apply(e)
				}
				produced = append(produced, got...)
			}
			require.Len(t, produced, tt.n)
			require.Equal(t, tt.then, personStateOf(p))
			require.Equal(t, tt.then, personStateOf(domain.PersonFromHistory(pid, produced)))
		})
	}
}

func TestPersonApplyIgnoresOtherEvents(t *testing.T) {
	// given an active person
	p := domain.PersonFromHistory(pid, active)
	before := personStateOf(p)
	// when events of other aggregates are applied
	for _, e := range []any{
		events.GroupCreated{GroupID: "g1", Name: "n"}, events.GroupDeletionRequested{GroupID: "g1", DeletionID: d1},
		events.GroupDeleted{GroupID: "g1"}, events.DeletionRequested{DeletionID: d1}, events.DeletionCompleted{DeletionID: d1}, nil, "x",
	} {
		p.Apply(e)
	}
	// then nothing changes
	require.Equal(t, before, personStateOf(p))
}

func TestPersonAccessorsReturnCopies(t *testing.T) {
	// given an active person
	p := domain.PersonFromHistory(pid, active)
	// when the returned lists are changed
	p.GroupIDs()[0] = "mutated"
	p.PermissionGroupIDs()[0] = "mutated"
	p.Faces()[0].FaceID = "mutated"
	// then the person is unchanged
	require.Equal(t, []string{"g1", "g2"}, p.GroupIDs())
	require.Equal(t, []string{"pg1", "pg2"}, p.PermissionGroupIDs())
	require.Equal(t, []events.Face{face("f1"), face("f2")}, p.Faces())
}

func TestPersonHistoryIsNotAliased(t *testing.T) {
	// given a history whose creation event is later changed by its owner
	e := personCreated([]string{"g1", "g2"}, []string{"pg1"}, face("f1"))
	p := domain.PersonFromHistory(pid, []any{e})
	e.GroupIDs[0], e.PermissionGroupIDs[0], e.Faces[0].FaceID = "x", "x", "x"
	// when the person changes; then neither side sees the other's changes
	p.Apply(removedFromGroup("g2"))
	require.Equal(t, []string{"g1"}, p.GroupIDs())
	require.Equal(t, []string{"pg1"}, p.PermissionGroupIDs())
	require.Equal(t, []events.Face{face("f1")}, p.Faces())
	require.Equal(t, []string{"x", "g2"}, e.GroupIDs)
}

// With external targets, the person is deleted only once every target confirmed; each target
// confirms on its own, a repeated confirmation is a no-op, and a failure names the target.
func TestDeletionWaitsForEveryTarget(t *testing.T) {
	afterFaces := history(deleting, unboundStep(pid, d1, nil),
		facesStep(pid, d1, nil))
	p := domain.PersonFromHistory(pid, afterFaces)
	got, err := p.Decide(domain.RecordDeletionStep{Step: domain.StepPurgePhotos, Targets: []string{"site-a", "cloud"}})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, []string{"site-a", "cloud"}, got[0].(events.PhotosPurged).Targets)
	p.Apply(got[0])
	_, next, _ := p.Deletion()
	require.Equal(t, domain.StepDeleteFromTargets, next)

	tests := []struct {
		name string
		when any
		want []any
		err  error
	}{
		{name: "delete before the targets confirmed", when: step(domain.StepDeletePerson), err: domain.ErrStepOutOfOrder},
		{name: "the step is not recorded as a whole", when: step(domain.StepDeleteFromTargets), err: domain.ErrStepOutOfOrder},
		{name: "one target confirms", when: domain.ConfirmTargets{Targets: []string{"cloud"}, Attempts: 2},
			want: []any{events.PersonRemovedFromTargets{PersonID: pid, DeletionID: d1, Targets: []string{"cloud"}, Remaining: []string{"site-a"}, Attempts: 2}}},
		{name: "an unknown target is ignored", when: domain.ConfirmTargets{Targets: []string{"elsewhere"}}},
		{name: "a target fails", when: domain.FailPersonDeletion{Step: domain.StepDeleteFromTargets, Code: domain.CodeStepFailed, Targets: []string{"site-a"}, Attempts: 6},
			want: []any{events.PersonDeletionFailed{PersonID: pid, DeletionID: d1, Code: domain.CodeStepFailed, Step: string(domain.StepDeleteFromTargets), Targets: []string{"site-a"}, Attempts: 6}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.PersonFromHistory(pid, append(slices.Clone(afterFaces), photosStep(pid, d1, nil,
				"site-a", "cloud"))).Decide(tt.when)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	// both confirm, one after the other: then the last step runs
	got, err = p.Decide(domain.ConfirmTargets{Targets: []string{"cloud"}})
	require.NoError(t, err)
	p.Apply(got[0])
	got, err = p.Decide(domain.ConfirmTargets{Targets: []string{"cloud"}})
	require.NoError(t, err)
	require.Empty(t, got, "a repeated confirmation")
	require.Equal(t, []string{"site-a"}, p.PendingTargets())
	got, err = p.Decide(domain.ConfirmTargets{Targets: []string{"site-a"}})
	require.NoError(t, err)
	require.Empty(t, got[0].(events.PersonRemovedFromTargets).Remaining)
	p.Apply(got[0])
	got, err = p.Decide(step(domain.StepDeletePerson))
	require.NoError(t, err)
	require.Equal(t, []any{events.PersonDeleted{PersonID: pid, DeletionID: d1}}, got)
}
