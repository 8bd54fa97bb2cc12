package projections

import (
	"cmp"
	"context"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

// A replay builds tables from empty. Applying the log statement by statement costs a round trip
// per row change; instead each projector here folds the events into the rows they leave, in
// memory, and the rows are written at once (COPY on PostgreSQL). Each fold mirrors its
// projector's statements exactly: TestReplayEqualsLive compares the two on a busy log, and a
// change to a projector needs the same change here.

// folder is a projector that can fold events for a replay.
type folder interface {
	Projector
	newFold() fold
}

// fold accumulates a projection's rows from events in log order.
type fold interface {
	add(r events.Recorded)
	// flush writes the rows folded so far. Intermediate flushes (final false) write only what
	// no later event can change (append-only rows); the final one writes the rest.
	flush(ctx context.Context, w rowWriter, final bool) error
}

// rowWriter writes rows into one table of the fresh read model.
type rowWriter interface {
	write(ctx context.Context, table string, cols []string, rows [][]any) error
}

func (Registry) newFold() fold {
	return &registryFold{groups: map[string]*groupRec{}, slots: map[string]*personSlot{}, faces: map[string]faceRec{}}
}

type groupRec struct {
	name, tag, state     string
	createdAt, updatedAt time.Time
}

type personRec struct {
	name, profile, state, deletionID string
	createdAt, updatedAt             time.Time
	version                          uint64
}

// personSlot holds every row of one person id: the persons row (nil when there is none) and
// the rows keyed by the person, which may exist without it (an event on an unknown person
// inserts them all the same, as the statements do).
type personSlot struct {
	rec         *personRec
	memberships []member // person_id, group_id: unique group
	bindings    []member // person_id, permission_group_id: unique group
	faces       []string // face ids, rows in registryFold.faces
}

type member struct {
	id string
	at time.Time
}

type faceRec struct {
	personID, photoKey string
	addedAt            time.Time
}

// registryFold mirrors applyRegistry (registry.go).
type registryFold struct {
	groups map[string]*groupRec
	slots  map[string]*personSlot
	faces  map[string]faceRec // face_id (the primary key) -> row
}

func (f *registryFold) slot(personID string) *personSlot {
	s := f.slots[personID]
	if s == nil {
		s = &personSlot{}
		f.slots[personID] = s
	}
	return s
}

func (f *registryFold) touch(personID string, r events.Recorded) {
	if s := f.slots[personID]; s != nil && s.rec != nil {
		s.rec.updatedAt, s.rec.version = r.Time, r.Seq
	}
}

// touchListed mirrors touchListed (registry.go) for one listed person: its version moves only
// when the event is on its own subject.
func (f *registryFold) touchListed(personID string, r events.Recorded) {
	if s := f.slots[personID]; s != nil && s.rec != nil {
		s.rec.updatedAt = r.Time
		if personID == versionOwner(r) {
			s.rec.version = r.Seq
		}
	}
}

// addMember inserts ON CONFLICT DO NOTHING.
func addMember(ms []member, id string, t time.Time) []member {
	for _, m := range ms {
		if m.id == id {
			return ms
		}
	}
	return append(ms, member{id: id, at: t})
}

func removeMember(ms []member, id string) []member {
	for i, m := range ms {
		if m.id == id {
			return append(ms[:i], ms[i+1:]...)
		}
	}
	return ms
}

func (f *registryFold) addFace(personID string, face events.Face, t time.Time) {
	if _, ok := f.faces[face.FaceID]; ok {
		return // face_id is the primary key: ON CONFLICT DO NOTHING
	}
	f.faces[face.FaceID] = faceRec{personID: personID, photoKey: face.PhotoKey, addedAt: t}
	s := f.slot(personID)
	s.faces = append(s.faces, face.FaceID)
}

func (f *registryFold) deleteFace(personID, faceID string) {
	if rec, ok := f.faces[faceID]; ok && rec.personID == personID {
		delete(f.faces, faceID)
		s := f.slots[personID]
		for i, id := range s.faces {
			if id == faceID {
				s.faces = append(s.faces[:i], s.faces[i+1:]...)
				break
			}
		}
	}
}

func (f *registryFold) deleteFaces(personID string) {
	if s := f.slots[personID]; s != nil {
		for _, id := range s.faces {
			delete(f.faces, id)
		}
		s.faces = nil
	}
}

// deletePerson removes every row of the person (deletePersonRows).
func (f *registryFold) deletePerson(personID string) {
	f.deleteFaces(personID)
	delete(f.slots, personID)
}

func (f *registryFold) add(r events.Recorded) {
	t := r.Time
	switch e := r.Data.(type) {
	case events.GroupCreated:
		f.groups[e.GroupID] = &groupRec{name: e.Name, tag: e.Tag, state: "active", createdAt: t, updatedAt: t}
	case events.GroupDeletionRequested:
		if g, ok := f.groups[e.GroupID]; ok {
			g.state, g.updatedAt = "deleting", t
		}
	case events.GroupDeleted:
		// Rare: a scan of every person beats keeping an index by group for every membership.
		for _, s := range f.slots {
			s.memberships = removeMember(s.memberships, e.GroupID)
		}
		delete(f.groups, e.GroupID)
	case events.PersonCreated:
		f.deletePerson(e.PersonID)
		s := f.slot(e.PersonID)
		s.rec = &personRec{name: string(e.Name), profile: string(e.Profile), state: "active", createdAt: t, updatedAt: t, version: r.Seq}
		for _, g := range e.GroupIDs {
			s.memberships = addMember(s.memberships, g, t)
		}
		for _, fc := range e.Faces {
			f.addFace(e.PersonID, fc, t)
		}
		for _, p := range e.PermissionGroupIDs {
			s.bindings = addMember(s.bindings, p, t)
		}
	case events.PersonAddedToGroup:
		f.touch(e.PersonID, r)
		s := f.slot(e.PersonID)
		s.memberships = addMember(s.memberships, e.GroupID, t)
	case events.PersonRemovedFromGroup:
		f.touch(e.PersonID, r)
		if s := f.slots[e.PersonID]; s != nil {
			s.memberships = removeMember(s.memberships, e.GroupID)
		}
	case events.FaceAdded:
		f.touch(e.PersonID, r)
		f.addFace(e.PersonID, e.Face, t)
	case events.FaceDeleted:
		f.touch(e.PersonID, r)
		f.deleteFace(e.PersonID, e.FaceID)
	case events.PermissionGroupBound:
		f.touch(e.PersonID, r)
		s := f.slot(e.PersonID)
		s.bindings = addMember(s.bindings, e.PermissionGroupID, t)
	case events.PermissionGroupUnbound:
		f.touch(e.PersonID, r)
		if s := f.slots[e.PersonID]; s != nil {
			s.bindings = removeMember(s.bindings, e.PermissionGroupID)
		}
	case events.PersonDeletionRequested:
		if e.Joins != "" {
			f.touch(e.PersonID, r)
			return
		}
		if s := f.slots[e.PersonID]; s != nil && s.rec != nil {
			s.rec.state, s.rec.deletionID, s.rec.updatedAt, s.rec.version = "deleting", e.DeletionID, t, r.Seq
		}
	case events.PermissionGroupsUnbound:
		for _, id := range events.PersonIDsOf(e) {
			f.touchListed(id, r)
			if s := f.slots[id]; s != nil {
				s.bindings = nil
			}
		}
	case events.FacesPurged:
		for _, id := range events.PersonIDsOf(e) {
			f.touchListed(id, r)
		}
	case events.PhotosPurged:
		for _, id := range events.PersonIDsOf(e) {
			f.touchListed(id, r)
			f.deleteFaces(id)
		}
	case events.PersonDeletionFailed:
		f.touch(e.PersonID, r)
	case events.PersonDeletionCancelled:
		if s := f.slots[e.PersonID]; s != nil && s.rec != nil {
			s.rec.state, s.rec.deletionID, s.rec.updatedAt, s.rec.version = "active", "", t, r.Seq
		}
	case events.PersonDeleted:
		f.deletePerson(e.PersonID)
	}
}

func (f *registryFold) flush(ctx context.Context, w rowWriter, final bool) error {
	if !final {
		return nil
	}
	var rows [][]any
	for id, g := range f.groups {
		rows = append(rows, []any{id, g.name, g.tag, g.state, g.createdAt, g.updatedAt})
	}
	if err := w.write(ctx, "groups", []string{"group_id", "name", "tag", "state", "created_at", "updated_at"}, rows); err != nil {
		return err
	}
	var persons, memberships, bindings [][]any
	for id, s := range f.slots {
		if p := s.rec; p != nil {
			persons = append(persons, []any{id, p.name, p.profile, p.state, p.deletionID, p.createdAt, p.updatedAt, int64(p.version)})
		}
		for _, m := range s.memberships {
			memberships = append(memberships, []any{id, m.id, m.at})
		}
		for _, b := range s.bindings {
			bindings = append(bindings, []any{id, b.id, b.at})
		}
	}
	if err := w.write(ctx, "persons", []string{"person_id", "name_sealed", "profile_sealed", "state", "deletion_id", "created_at", "updated_at", "version"}, persons); err != nil {
		return err
	}
	if err := w.write(ctx, "memberships", []string{"person_id", "group_id", "added_at"}, memberships); err != nil {
		return err
	}
	if err := w.write(ctx, "permission_bindings", []string{"person_id", "permission_group_id", "bound_at"}, bindings); err != nil {
		return err
	}
	rows = make([][]any, 0, len(f.faces))
	for id, fc := range f.faces {
		rows = append(rows, []any{id, fc.personID, fc.photoKey, fc.addedAt})
	}
	return w.write(ctx, "faces", []string{"face_id", "person_id", "photo_key", "added_at"}, rows)
}

func (Deletions) newFold() fold {
	return &deletionsFold{deletions: map[string]*deletionRec{}, items: map[itemKey]*itemRec{}, byPerson: map[string][]*itemRec{},
		groupActors: map[string]string{}}
}

type deletionRec struct {
	state, groupID, idempotencyKey, callbackURL string
	actor, source                               string
	recorded                                    int64
	fullyRecorded                               int
	createdAt                                   time.Time
	completedAt                                 *time.Time
	version                                     uint64
}

type itemKey struct {
	deletionID string
	position   int
}

type itemRec struct {
	itemKey
	personID, state, sagaID, code, message, step string
	updatedAt                                    time.Time
}

type deletedRec struct {
	personID, deletionID string
	deletedAt            time.Time
	seq                  uint64
}

type deletedGroupRec struct {
	groupID, deletionID, actor string
	requestedAt                time.Time
	seq                        uint64
}

// deletionsFold mirrors applyDeletion (deletions.go).
type deletionsFold struct {
	deletions map[string]*deletionRec
	items     map[itemKey]*itemRec
	byPerson  map[string][]*itemRec
	deleted   []deletedRec
	groups    []deletedGroupRec
	// groupActors: who requested each group deletion, by deletion id (the first request).
	groupActors map[string]string
}

// update applies fn to the person's items that match.
func (f *deletionsFold) update(personID string, match func(*itemRec) bool, fn func(*itemRec)) {
	for _, it := range f.byPerson[personID] {
		if match(it) {
			fn(it)
		}
	}
}

func (f *deletionsFold) add(r events.Recorded) {
	t := r.Time
	switch e := r.Data.(type) {
	case events.DeletionRequested:
		if e.Chunk == 0 {
			if _, ok := f.deletions[e.DeletionID]; !ok {
				source, actor := DeletionSource(e, r.Actor), r.Actor
				if source == SourceGroup {
					actor = cmp.Or(f.groupActors[e.DeletionID], actor)
				}
				f.deletions[e.DeletionID] = &deletionRec{state: "running", groupID: e.GroupID, idempotencyKey: e.IdempotencyKey,
					callbackURL: e.CallbackURL, actor: actor, source: source, createdAt: t, version: r.Seq}
			}
		}
		rejected := make(map[int]string, len(e.Rejected))
		for _, rj := range e.Rejected {
			rejected[rj.Index] = rj.Code
		}
		for i, id := range e.PersonIDs {
			k := itemKey{e.DeletionID, e.Offset + i}
			if _, ok := f.items[k]; ok {
				continue
			}
			state, code := ItemPending, ""
			if c, ok := rejected[k.position]; ok {
				state, code = ItemFailed, c
			}
			it := &itemRec{itemKey: k, personID: id, state: state, code: code, message: itemMessage(code), updatedAt: t}
			f.items[k] = it
			f.byPerson[id] = append(f.byPerson[id], it)
		}
		if d, ok := f.deletions[e.DeletionID]; ok {
			d.recorded += int64(len(e.PersonIDs))
			if e.Last {
				d.fullyRecorded = 1
			}
			d.version = r.Seq
		}
	case events.DeletionChunkDispatched:
		for _, fl := range e.Failed {
			state := ItemFailed
			if fl.Code == domain.CodeCancelled {
				state = ItemCancelled
			}
			if it, ok := f.items[itemKey{e.DeletionID, fl.Index}]; ok && it.state == ItemPending {
				it.state, it.code, it.message, it.updatedAt = state, fl.Code, itemMessage(fl.Code), t
			}
		}
		if d, ok := f.deletions[e.DeletionID]; ok {
			d.version = r.Seq
		}
	case events.PersonDeletionRequested:
		saga := e.DeletionID
		if e.Joins != "" {
			saga = e.Joins
		}
		if e.ResumeAt != "" {
			f.update(e.PersonID, func(it *itemRec) bool {
				return it.sagaID == saga && it.state == ItemFailed && it.code == domain.CodeStepFailed
			}, func(it *itemRec) {
				it.state, it.code, it.message, it.step, it.updatedAt = ItemPending, "", "", "", t
			})
			return
		}
		f.update(e.PersonID, func(it *itemRec) bool { return it.deletionID == e.DeletionID && it.state == ItemPending },
			func(it *itemRec) { it.sagaID, it.updatedAt = saga, t })
	case events.PersonRemovedFromGroup:
		if e.DeletionID == "" {
			return
		}
		f.update(e.PersonID, func(it *itemRec) bool { return it.deletionID == e.DeletionID && it.state == ItemPending },
			func(it *itemRec) { it.state, it.updatedAt = ItemDeleted, t })
	case events.PersonDeletionFailed:
		f.update(e.PersonID, func(it *itemRec) bool { return it.sagaID == e.DeletionID && it.state == ItemPending },
			func(it *itemRec) {
				it.state, it.code, it.message, it.step, it.updatedAt = ItemFailed, e.Code, e.Message, e.Step, t
			})
	case events.PersonDeleted:
		f.update(e.PersonID, func(it *itemRec) bool { return it.sagaID == e.DeletionID && it.state == ItemPending },
			func(it *itemRec) { it.state, it.updatedAt = ItemDeleted, t })
		f.deleted = append(f.deleted, deletedRec{personID: e.PersonID, deletionID: e.DeletionID, deletedAt: t, seq: r.Seq})
	case events.GroupDeletionRequested:
		f.groups = append(f.groups, deletedGroupRec{groupID: e.GroupID, deletionID: e.DeletionID, actor: r.Actor, requestedAt: t, seq: r.Seq})
		if _, ok := f.groupActors[e.DeletionID]; !ok {
			f.groupActors[e.DeletionID] = r.Actor
		}
	case events.DeletionCompleted:
		if d, ok := f.deletions[e.DeletionID]; ok {
			if d.state != "cancelled" {
				d.state = "completed"
			}
			d.completedAt, d.version = &t, r.Seq
		}
	case events.DeletionCancelled:
		if d, ok := f.deletions[e.DeletionID]; ok {
			d.state, d.version = "cancelled", r.Seq
		}
	case events.PersonDeletionCancelled:
		f.update(e.PersonID, func(it *itemRec) bool { return it.sagaID == e.DeletionID && it.state == ItemPending },
			func(it *itemRec) {
				it.state, it.code, it.message, it.updatedAt = ItemCancelled, domain.CodeCancelled, itemMessage(domain.CodeCancelled), t
			})
	}
}

func (f *deletionsFold) flush(ctx context.Context, w rowWriter, final bool) error {
	if !final {
		return nil
	}
	var rows [][]any
	for id, d := range f.deletions {
		var completed any
		if d.completedAt != nil {
			completed = *d.completedAt
		}
		rows = append(rows, []any{id, d.state, d.groupID, d.idempotencyKey, d.callbackURL, d.recorded, d.fullyRecorded, d.createdAt, completed, int64(d.version),
			d.actor, d.source})
	}
	// The item counters are recomputed from the loaded items when the load ends (recountDeletions).
	if err := w.write(ctx, "deletions", []string{"deletion_id", "state", "group_id", "idempotency_key", "callback_url", "recorded",
		"fully_recorded", "created_at", "completed_at", "version", "actor", "source"}, rows); err != nil {
		return err
	}
	rows = make([][]any, 0, len(f.items))
	for _, it := range f.items {
		rows = append(rows, []any{it.deletionID, int64(it.position), it.personID, it.state, it.sagaID, it.code, it.message, it.step, it.updatedAt})
	}
	if err := w.write(ctx, "deletion_items", []string{"deletion_id", "position", "person_id", "state", "saga_id", "error_code",
		"error_message", "error_step", "updated_at"}, rows); err != nil {
		return err
	}
	rows = nil // the writer may still hold the previous slice
	for _, d := range f.deleted {
		rows = append(rows, []any{d.personID, d.deletionID, d.deletedAt, int64(d.seq)})
	}
	if err := w.write(ctx, "deleted_persons", []string{"person_id", "deletion_id", "deleted_at", "seq"}, rows); err != nil {
		return err
	}
	rows = nil
	for _, g := range f.groups {
		rows = append(rows, []any{g.groupID, g.deletionID, g.requestedAt, int64(g.seq), g.actor})
	}
	return w.write(ctx, "deleted_groups", []string{"group_id", "deletion_id", "requested_at", "seq", "actor"}, rows)
}

func (Permissions) newFold() fold { return &permissionsFold{groups: map[string]*permissionRec{}} }

type permissionRec struct {
	name, description, state string
	createdAt, updatedAt     time.Time
}

// permissionsFold mirrors applyPermission (permissions.go).
type permissionsFold struct{ groups map[string]*permissionRec }

func (f *permissionsFold) add(r events.Recorded) {
	t := r.Time
	switch e := r.Data.(type) {
	case events.PermissionGroupCreated:
		f.groups[e.PermissionGroupID] = &permissionRec{name: e.Name, description: e.Description, state: "active", createdAt: t, updatedAt: t}
	case events.PermissionGroupDeletionRequested:
		if g, ok := f.groups[e.PermissionGroupID]; ok {
			g.state, g.updatedAt = "deleting", t
		}
	case events.PermissionGroupDeleted:
		delete(f.groups, e.PermissionGroupID)
	}
}

func (f *permissionsFold) flush(ctx context.Context, w rowWriter, final bool) error {
	if !final {
		return nil
	}
	rows := make([][]any, 0, len(f.groups))
	for id, g := range f.groups {
		rows = append(rows, []any{id, g.name, g.description, g.state, g.createdAt, g.updatedAt})
	}
	return w.write(ctx, "permission_groups", []string{"permission_group_id", "name", "description", "state", "created_at", "updated_at"}, rows)
}

func (Audit) newFold() fold { return &auditFold{prev: GenesisHash} }

// auditFold chains entries as Audit.Apply does; the trail is append-only, so it is written in
// slices as it grows.
type auditFold struct {
	prev    string
	entries []AuditEntry
}

func (f *auditFold) add(r events.Recorded) {
	e := AuditEntryFor(r).Chained(f.prev)
	f.prev = e.Hash
	f.entries = append(f.entries, e)
}

func (f *auditFold) flush(ctx context.Context, w rowWriter, _ bool) error {
	if len(f.entries) == 0 {
		return nil
	}
	rows := make([][]any, len(f.entries))
	var persons [][]any
	for i, e := range f.entries {
		rows[i] = e.row()
		for _, p := range dedup(e.PersonIDs) {
			persons = append(persons, []any{p, int64(e.Seq)})
		}
	}
	if err := w.write(ctx, "audit_log", auditColumns, rows); err != nil {
		return err
	}
	if err := w.write(ctx, "audit_persons", []string{"person_id", "seq"}, persons); err != nil {
		return err
	}
	f.entries = nil // the writer may still hold the rows built from them
	return nil
}
