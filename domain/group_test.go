package domain_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

const gid = "group-1"

var (
	groupCreated          = events.GroupCreated{GroupID: gid, Name: "Staff", Tag: "hq"}
	groupDeletionAsked    = events.GroupDeletionRequested{GroupID: gid, DeletionID: d1}
	groupGone             = events.GroupDeleted{GroupID: gid, DeletionID: d1}
	groupActive           = history(groupCreated)
	groupDeleting         = history(groupActive, groupDeletionAsked)
	groupDeleted          = history(groupDeleting, groupGone)
	groupSecondLifeActive = history(groupDeleted, events.GroupCreated{GroupID: gid, Name: "Staff 2"})
)

type groupCase struct {
	name  string
	id    string // the group's id; gid when empty
	given []any  // past events
	when  any    // the command
	then  []any  // expected events; empty means none
	err   error  // expected error, matched with errors.Is
}

func runGroupCases(t *testing.T, cases []groupCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		require.False(t, seen[tc.name], "duplicate case name %q", tc.name)
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			if id == "" {
				id = gid
			}
			// given
			g := domain.GroupFromHistory(id, tc.given)
			before := g.Status()
			// when
			got, err := g.Decide(tc.when)
			// then
			require.Equal(t, before, g.Status(), "Decide must not change state")
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
			require.Equal(t, tc.then, got)
		})
	}
}

func createdGroup(id, name, tag string) events.GroupCreated {
	return events.GroupCreated{GroupID: id, Name: name, Tag: tag}
}

func TestCreateGroup(t *testing.T) {
	create := domain.CreateGroup{Name: "Staff", Tag: "hq"}
	runGroupCases(t, []groupCase{
		// new
		{name: "new", when: create, then: []any{groupCreated}},
		{name: "new without a tag", when: domain.CreateGroup{Name: "Staff"}, then: []any{createdGroup(gid, "Staff", "")}},
		{name: "name of 60 chinese characters", when: domain.CreateGroup{Name: strings.Repeat("组", 60)}, then: []any{createdGroup(gid, strings.Repeat("组", 60), "")}},
		{name: "tag of 40 chinese characters", when: domain.CreateGroup{Name: "n", Tag: strings.Repeat("标", 40)}, then: []any{createdGroup(gid, "n", strings.Repeat("标", 40))}},
		{name: "id with every legal symbol", id: "G_-%@#&9", when: create, then: []any{createdGroup("G_-%@#&9", "Staff", "hq")}},
		{name: "id of 64 characters", id: strings.Repeat("g", 64), when: create, then: []any{createdGroup(strings.Repeat("g", 64), "Staff", "hq")}},

		// state
		{name: "exists", given: groupActive, when: create, err: domain.ErrGroupExists},
		{name: "exists with another name", given: groupActive, when: domain.CreateGroup{Name: "Other"}, err: domain.ErrGroupExists},
		{name: "while deleting", given: groupDeleting, when: create, err: domain.ErrGroupDeleting},
		{name: "recreate after deleted", given: groupDeleted, when: domain.CreateGroup{Name: "Staff 2"}, then: []any{createdGroup(gid, "Staff 2", "")}},
		{name: "exists after recreate", given: groupSecondLifeActive, when: create, err: domain.ErrGroupExists},

		// id
		{name: "id with a dot", id: "g.1", when: create, err: domain.ErrIDIllegal},
		{name: "id with a space", id: "g 1", when: create, err: domain.ErrIDIllegal},
		{name: "id with a star", id: "*", when: create, err: domain.ErrIDIllegal},
		{name: "id with a greater-than", id: "g>", when: create, err: domain.ErrIDIllegal},
		{name: "id in chinese", id: "组", when: create, err: domain.ErrIDIllegal},
		{name: "id of 65 characters", id: strings.Repeat("g", 65), when: create, err: domain.ErrIDTooLong},

		// name
		{name: "empty name", when: domain.CreateGroup{}, err: domain.ErrNameEmpty},
		{name: "name of 61 characters", when: domain.CreateGroup{Name: strings.Repeat("n", 61)}, err: domain.ErrNameTooLong},
		{name: "name of 61 chinese characters", when: domain.CreateGroup{Name: strings.Repeat("组", 61)}, err: domain.ErrNameTooLong},
		{name: "name with a newline", when: domain.CreateGroup{Name: "Staff\n"}, err: domain.ErrNameIllegal},
		{name: "name with NUL", when: domain.CreateGroup{Name: "St\x00aff"}, err: domain.ErrNameIllegal},
		{name: "name with invalid utf-8", when: domain.CreateGroup{Name: "St\xffaff"}, err: domain.ErrNameIllegal},

		// tag
		{name: "tag of 41 characters", when: domain.CreateGroup{Name: "n", Tag: strings.Repeat("t", 41)}, err: domain.ErrTagTooLong},
		{name: "tag of 41 chinese characters", when: domain.CreateGroup{Name: "n", Tag: strings.Repeat("标", 41)}, err: domain.ErrTagTooLong},
		{name: "tag with a tab", when: domain.CreateGroup{Name: "n", Tag: "a\tb"}, err: domain.ErrNameIllegal},
	})
}

func TestGroupEmptyIDIsRefused(t *testing.T) {
	// given a group without an id; when it is created; then
	_, err := domain.GroupFromHistory("", nil).Decide(domain.CreateGroup{Name: "n"})
	require.ErrorIs(t, err, domain.ErrIDEmpty)
}

func TestRequestGroupDeletion(t *testing.T) {
	runGroupCases(t, []groupCase{
		{name: "active", given: groupActive, when: domain.RequestGroupDeletion{DeletionID: d1}, then: []any{groupDeletionAsked}},
		{name: "active after recreate", given: groupSecondLifeActive, when: domain.RequestGroupDeletion{DeletionID: d2},
			then: []any{events.GroupDeletionRequested{GroupID: gid, DeletionID: d2}}},
		{name: "absent", when: domain.RequestGroupDeletion{DeletionID: d1}, err: domain.ErrGroupNotFound},
		{name: "deleted", given: groupDeleted, when: domain.RequestGroupDeletion{DeletionID: d2}, err: domain.ErrGroupNotFound},
		{name: "deleting, another deletion", given: groupDeleting, when: domain.RequestGroupDeletion{DeletionID: d2}, err: domain.ErrGroupDeleting},
	})
}

func TestCompleteGroupDeletion(t *testing.T) {
	runGroupCases(t, []groupCase{
		{name: "deleting", given: groupDeleting, when: domain.CompleteGroupDeletion{}, then: []any{groupGone}},
		{name: "deleting in a second life carries the new deletion id", given: history(groupSecondLifeActive, events.GroupDeletionRequested{GroupID: gid, DeletionID: d2}),
			when: domain.CompleteGroupDeletion{}, then: []any{events.GroupDeleted{GroupID: gid, DeletionID: d2}}},
		{name: "deleted is a no-op", given: groupDeleted, when: domain.CompleteGroupDeletion{}},
		{name: "active", given: groupActive, when: domain.CompleteGroupDeletion{}, err: domain.ErrGroupNotFound},
		{name: "absent", when: domain.CompleteGroupDeletion{}, err: domain.ErrGroupNotFound},
		{name: "active after recreate", given: groupSecondLifeActive, when: domain.CompleteGroupDeletion{}, err: domain.ErrGroupNotFound},
	})
}

func TestGroupUnknownCommand(t *testing.T) {
	runGroupCases(t, []groupCase{
		{name: "a person command", given: groupActive, when: domain.CreatePerson{Name: sealedName}, err: domain.ErrUnknownCommand},
		{name: "a pointer to a command", given: groupActive, when: &domain.CompleteGroupDeletion{}, err: domain.ErrUnknownCommand},
		{name: "nil", when: nil, err: domain.ErrUnknownCommand},
	})
}

// TestGroupApplyFollowsDecide runs commands through Decide, applies what it produces, and checks
// the status, both on the live aggregate and on one rebuilt from the produced history.
func TestGroupApplyFollowsDecide(t *testing.T) {
	create := domain.CreateGroup{Name: "Staff"}
	request := domain.RequestGroupDeletion{DeletionID: d1}
	complete := domain.CompleteGroupDeletion{}
	tests := []struct {
		name  string
		given []any // commands, each applied before the next
		then  domain.GroupStatus
		n     int // events produced
	}{
		{name: "absent", then: domain.GroupAbsent},
		{name: "created", given: []any{create}, then: domain.GroupActive, n: 1},
		{name: "deleting", given: []any{create, request}, then: domain.GroupDeleting, n: 2},
		{name: "deleted", given: []any{create, request, complete}, then: domain.GroupDeleted, n: 3},
		{name: "deleted, completed again", given: []any{create, request, complete, complete}, then: domain.GroupDeleted, n: 3},
		{name: "recreated", given: []any{create, request, complete, create}, then: domain.GroupActive, n: 4},
		{name: "deleting in a second life", given: []any{create, request, complete, create, domain.RequestGroupDeletion{DeletionID: d2}}, then: domain.GroupDeleting, n: 5},
		{name: "deleted in a second life", given: []any{create, request, complete, create, domain.RequestGroupDeletion{DeletionID: d2}, complete}, then: domain.GroupDeleted, n: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := domain.GroupFromHistory(gid, nil)
			var produced []any
			for _, cmd := range tt.given {
				got, err := g.Decide(cmd)
				require.NoError(t, err, "%T%+v", cmd, cmd)
				for _, e := range got {
					g.Apply(e)
				}
				produced = append(produced, got...)
			}
			require.Len(t, produced, tt.n)
			require.Equal(t, tt.then, g.Status())
			require.Equal(t, tt.then, domain.GroupFromHistory(gid, produced).Status())
		})
	}
}

func TestGroupApplyIgnoresOtherEvents(t *testing.T) {
	// given an active group
	g := domain.GroupFromHistory(gid, groupActive)
	// when events of other aggregates are applied
	for _, e := range []any{created, deletionRequested(d1), personGone, events.DeletionCompleted{DeletionID: d1}, nil} {
		g.Apply(e)
	}
	// then it is still active
	require.Equal(t, domain.GroupActive, g.Status())
}
