package projections

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/sagas"
)

// GroupMembers answers the group-deletion saga from the read model.
type GroupMembers struct {
	DB     *sqlx.DB
	Runner *Runner
}

var _ sagas.GroupMembers = GroupMembers{}

// Members returns up to limit members of the group after the given person id, in person id
// order, once the read model has applied the log up to atLeast, so that no membership recorded
// before then is missed.
func (m GroupMembers) Members(ctx context.Context, groupID string, atLeast uint64, after string, limit int) ([]string, error) {
	if err := m.Runner.WaitFor(ctx, atLeast); err != nil {
		return nil, err
	}
	ids := []string{}
	err := m.DB.SelectContext(ctx, &ids, m.DB.Rebind(`SELECT person_id FROM memberships WHERE group_id = ? AND person_id > ?
		ORDER BY person_id LIMIT ?`), groupID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("members of group %s: %w", groupID, err)
	}
	return ids, nil
}
