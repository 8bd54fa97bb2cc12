package app

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A target's last error is its own part of the saga's joined message, without the person's ID
// (as given or URL-escaped) where it stands as a word.
func TestTargetMessage(t *testing.T) {
	for _, tc := range []struct{ msg, target, person, want string }{
		{"target a: a answered 500 p1 down; target b: b answered 403 no", "b", "p1", "b answered 403 no"},
		{"target a: a answered 500 p1 down; target b: b answered 403 no", "a", "p1", "a answered 500 {person_id} down"},
		{"target edge-1: edge-1 answered 404 id 1", "edge-1", "1", "edge-1 answered 404 id {person_id}"},
		{`target h: Delete "http://h/people/a%40b": EOF`, "h", "a@b", `Delete "http://h/people/{person_id}": EOF`},
		{"target h: p10 and p1", "h", "p1", "p10 and {person_id}"},
		{"not configured on this replica", "h", "x", "not configured on this replica"},
	} {
		require.Equal(t, tc.want, targetMessage(tc.msg, tc.target, tc.person), tc.msg)
	}
}
