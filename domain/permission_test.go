package domain_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

const pgid = "perm-1"

var (
	permCreated       = events.PermissionGroupCreated{PermissionGroupID: pgid, Name: "测试组", Description: "first"}
	permDeletionAsked = events.PermissionGroupDeletionRequested{PermissionGroupID: pgid, Name: "测试组"}
	permGone          = events.PermissionGroupDeleted{PermissionGroupID: pgid, Name: "测试组"}
	permActive        = history(permCreated)
	permDeleting      = history(permActive, permDeletionAsked)
	permDeleted       = history(permDeleting, permGone)
	permSecondLife    = history(permDeleted, events.PermissionGroupCreated{PermissionGroupID: pgid, Name: "Other"})
	createPerm        = domain.CreatePermissionGroup{Name: "测试组", Description: "first"}
	permUnbound       = events.PermissionGroupUnbound{PersonID: pid, PermissionGroupID: "pg1"}
	unbindPermission  = domain.UnbindPermissionGroup{PermissionGroupID: "pg1"}
	stdPermissions    = []string{"pg1", "pg2"}
)

type permissionCase struct {
	name  string
	id    string // the permission group's id; pgid when empty
	given []any  // past events
	when  any    // the command
	then  []any  // expected events; empty means none
	err   error  // expected error, matched with errors.Is
}

func runPermissionCases(t *testing.T, cases []permissionCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		require.False(t, seen[tc.name], "duplicate case name %q", tc.name)
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			if id == "" {
				id = pgid
			}
			// given
			g := domain.PermissionGroupFromHistory(id, tc.given)
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

func TestPermissionGroupLife(t *testing.T) {
	runPermissionCases(t, []permissionCase{
		// create
		{name: "create", when: createPerm, then: []any{permCreated}},
		{name: "create without a description", when: domain.CreatePermissionGroup{Name: "n"},
			then: []any{events.PermissionGroupCreated{PermissionGroupID: pgid, Name: "n"}}},
		{name: "create again", given: permActive, when: createPerm, err: domain.ErrPermissionGroupExists},
		{name: "create while deleting", given: permDeleting, when: createPerm, err: domain.ErrPermissionGroupDeleting},
		{name: "create after deletion", given: permDeleted, when: domain.CreatePermissionGroup{Name: "Other"},
			then: []any{events.PermissionGroupCreated{PermissionGroupID: pgid, Name: "Other"}}},
		{name: "create without a name", when: domain.CreatePermissionGroup{}, err: domain.ErrNameEmpty},
		{name: "create with a name of 61 characters", when: domain.CreatePermissionGroup{Name: strings.Repeat("名", 61)}, err: domain.ErrNameTooLong},
		{name: "create with a control character in the name", when: domain.CreatePermissionGroup{Name: "a\x00b"}, err: domain.ErrNameIllegal},
		{name: "create with a description of 257 characters", when: domain.CreatePermissionGroup{Name: "n", Description: strings.Repeat("d", 257)}, err: domain.ErrDescriptionTooLong},
		{name: "create with a multi-line description", when: domain.CreatePermissionGroup{Name: "n", Description: "a\nb"},
			then: []any{events.PermissionGroupCreated{PermissionGroupID: pgid, Name: "n", Description: "a\nb"}}},
		{name: "create with an illegal id", id: "p.1", when: createPerm, err: domain.ErrIDIllegal},

		// delete
		{name: "request deletion", given: permActive, when: domain.RequestPermissionGroupDeletion{}, then: []any{permDeletionAsked}},
		{name: "request deletion again joins", given: permDeleting, when: domain.RequestPermissionGroupDeletion{}},
		{name: "request deletion of an absent group", when: domain.RequestPermissionGroupDeletion{}, err: domain.ErrPermissionNotFound},
		{name: "request deletion of a deleted group", given: permDeleted, when: domain.RequestPermissionGroupDeletion{}, err: domain.ErrPermissionNotFound},
		{name: "request deletion in a second life", given: permSecondLife, when: domain.RequestPermissionGroupDeletion{},
			then: []any{events.PermissionGroupDeletionRequested{PermissionGroupID: pgid, Name: "Other"}}},
		{name: "complete", given: permDeleting, when: domain.CompletePermissionGroupDeletion{}, then: []any{permGone}},
		{name: "complete again is a no-op", given: permDeleted, when: domain.CompletePermissionGroupDeletion{}},
		{name: "complete an active group", given: permActive, when: domain.CompletePermissionGroupDeletion{}, err: domain.ErrPermissionNotFound},
		{name: "complete an absent group", when: domain.CompletePermissionGroupDeletion{}, err: domain.ErrPermissionNotFound},

		{name: "unknown command", given: permActive, when: domain.CreateGroup{Name: "n"}, err: domain.ErrUnknownCommand},
	})
}

func TestPermissionGroupState(t *testing.T) {
	tests := []struct {
		name   string
		given  []any
		status domain.PermissionGroupStatus
		live   bool
		nm     string
	}{
		{"absent", nil, domain.PermissionGroupAbsent, false, ""},
		{"active", permActive, domain.PermissionGroupActive, true, "测试组"},
		{"deleting keeps its name taken", permDeleting, domain.PermissionGroupDeleting, true, "测试组"},
		{"deleted remembers the name to release", permDeleted, domain.PermissionGroupDeleted, false, "测试组"},
		{"second life", permSecondLife, domain.PermissionGroupActive, true, "Other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := domain.PermissionGroupFromHistory(pgid, tt.given)
			require.Equal(t, tt.status, g.Status())
			require.Equal(t, tt.live, g.Live())
			require.Equal(t, tt.nm, g.Name())
		})
	}
}

func TestUnbindPermissionGroup(t *testing.T) {
	runPersonCases(t, []personCase{
		{name: "unbind", given: active, when: unbindPermission, then: []any{permUnbound}},
		{name: "unbind a group bound later", given: history(active, permissionBound("pg3")), when: domain.UnbindPermissionGroup{PermissionGroupID: "pg3"},
			then: []any{events.PermissionGroupUnbound{PersonID: pid, PermissionGroupID: "pg3"}}},
		{name: "unbind twice is a no-op", given: history(active, permUnbound), when: unbindPermission},
		{name: "unbind what was never bound is a no-op", given: active, when: domain.UnbindPermissionGroup{PermissionGroupID: "pg9"}},
		{name: "unbind while the person is being deleted", given: deleting, when: unbindPermission, then: []any{permUnbound}},
		{name: "unbind after the person's bindings were unbound", given: afterUnbind, when: unbindPermission},
		{name: "unbind an absent person is a no-op", when: unbindPermission},
		{name: "unbind a deleted person is a no-op", given: deleted, when: unbindPermission},
		{name: "bind again after an unbind", given: history(active, permUnbound), when: domain.BindPermissionGroup{PermissionGroupID: "pg1"},
			then: []any{permissionBound("pg1")}},
	})
}

func TestPermissionGroupUnboundKeepsTheOthers(t *testing.T) {
	// given a person bound to pg1 and pg2
	p := domain.PersonFromHistory(pid, active)
	require.Equal(t, stdPermissions, p.PermissionGroupIDs())
	// when pg1 is unbound
	p.Apply(permUnbound)
	// then only pg2 is left, and the deletion saga's step 2 unbinds just that
	require.Equal(t, []string{"pg2"}, p.PermissionGroupIDs())
	p.Apply(deletionRequested(d1))
	got, err := p.Decide(step(domain.StepUnbindPermissions))
	require.NoError(t, err)
	require.Equal(t, []any{unboundStep(pid, d1, []string{"pg2"})}, got)
}

func TestCreatePersonKeepsTheSealedProfile(t *testing.T) {
	got, err := domain.PersonFromHistory(pid, nil).Decide(domain.CreatePerson{Name: sealedName, Profile: "c2VhbGVk"})
	require.NoError(t, err)
	require.Equal(t, events.Sealed("c2VhbGVk"), got[0].(events.PersonCreated).Profile)
}
