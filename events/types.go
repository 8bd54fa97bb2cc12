package events

// Aggregate names: the second token of a subject (erasure.<aggregate>.<id>).
const (
	AggregatePerson     = "person"
	AggregateGroup      = "group"
	AggregateDeletion   = "deletion"
	AggregatePermission = "permission" // a Sophon permission group (access-control group)
	// AggregateBatch is a batch of persons deleted together: the steps of a bulk deletion are
	// recorded once per batch on erasure.batch.<id>, not once per person (docs/adr/0003).
	AggregateBatch = "batch"
)

// Sealed is a personal field encrypted with the person's data key (AES-256-GCM, base64). It is the
// only form in which a name reaches the log; once the key is destroyed it can never be read again.
type Sealed string

// Face names one registered face. The feature record and the photo bytes live in the downstream
// stores; the log only knows their keys.
type Face struct {
	FaceID   string `json:"face_id"`
	PhotoKey string `json:"photo_key"`
}

// GroupCreated starts a group's life.
type GroupCreated struct {
	GroupID string `json:"group_id"`
	Name    string `json:"name"`
	Tag     string `json:"tag,omitempty"`
}

// GroupDeletionRequested puts a group into the deleting state.
type GroupDeletionRequested struct {
	GroupID    string `json:"group_id"`
	DeletionID string `json:"deletion_id"`
}

// GroupDeleted ends a group's life.
type GroupDeleted struct {
	GroupID    string `json:"group_id"`
	DeletionID string `json:"deletion_id,omitempty"`
}

// PersonCreated starts a person's life with its initial memberships, faces and permission bindings,
// so that a registration is one atomic append.
type PersonCreated struct {
	PersonID           string   `json:"person_id"`
	Name               Sealed   `json:"name"`
	GroupIDs           []string `json:"group_ids"`
	PermissionGroupIDs []string `json:"permission_group_ids"`
	Faces              []Face   `json:"faces"`
	// Profile holds further personal fields (a Sophon identity's user_type and ext_user_info),
	// sealed like the name.
	Profile Sealed `json:"profile,omitempty"`
}

// PersonAddedToGroup adds a membership.
type PersonAddedToGroup struct {
	PersonID string `json:"person_id"`
	GroupID  string `json:"group_id"`
}

// PersonRemovedFromGroup removes a membership without deleting the person. DeletionID names the
// deletion request that removed it, if any.
type PersonRemovedFromGroup struct {
	PersonID   string `json:"person_id"`
	GroupID    string `json:"group_id"`
	DeletionID string `json:"deletion_id,omitempty"`
}

// FaceAdded registers one more face.
type FaceAdded struct {
	PersonID string `json:"person_id"`
	Face     Face   `json:"face"`
}

// FaceDeleted removes one face.
type FaceDeleted struct {
	PersonID string `json:"person_id"`
	FaceID   string `json:"face_id"`
}

// PermissionGroupBound binds a person to an access-control permission group.
type PermissionGroupBound struct {
	PersonID          string `json:"person_id"`
	PermissionGroupID string `json:"permission_group_id"`
}

// PermissionGroupUnbound removes one permission binding from a person while the person stays:
// its permission group is being deleted.
type PermissionGroupUnbound struct {
	PersonID          string `json:"person_id"`
	PermissionGroupID string `json:"permission_group_id"`
}

// PermissionGroupCreated starts a permission group's life. Name is unique among live permission
// groups (reserved before the append); names and descriptions of permission groups are not
// personal data, so they travel in clear.
type PermissionGroupCreated struct {
	PermissionGroupID string `json:"permission_group_id"`
	Name              string `json:"name"`
	Description       string `json:"description,omitempty"`
}

// PermissionGroupDeletionRequested puts a permission group into the deleting state: its members
// are unbound one by one (PermissionGroupUnbound on each person), then PermissionGroupDeleted.
type PermissionGroupDeletionRequested struct {
	PermissionGroupID string `json:"permission_group_id"`
	Name              string `json:"name"`
}

// PermissionGroupDeleted ends a permission group's life once no person is bound to it; its name
// is free again.
type PermissionGroupDeleted struct {
	PermissionGroupID string `json:"permission_group_id"`
	Name              string `json:"name"`
}

// DeletionRequested records one chunk of a deletion request: the IDs at positions
// Offset..Offset+len(PersonIDs)-1, in request order. IDs refused at intake (illegal, repeated) are
// listed in Rejected and never reach a saga. Last marks the final chunk, which carries the total.
type DeletionRequested struct {
	DeletionID     string      `json:"deletion_id"`
	Chunk          int         `json:"chunk"`
	Offset         int         `json:"offset"`
	PersonIDs      []string    `json:"person_ids"`
	Rejected       []Rejection `json:"rejected,omitempty"`
	Last           bool        `json:"last,omitempty"`
	Total          int         `json:"total,omitempty"`
	GroupID        string      `json:"group_id,omitempty"`
	IdempotencyKey string      `json:"idempotency_key,omitempty"`
	CallbackURL    string      `json:"callback_url,omitempty"`
	// CallbackFormat is the body the callback gets: "" (the standard webhook body) or "sophon"
	// (the Sophon management platform's deleteidentities result).
	CallbackFormat string `json:"callback_format,omitempty"`
	// Source names the surface the request came through where its actor cannot tell ("sophon":
	// a Sophon request made with an API key records the key's name); "" on requests recorded
	// before sources were, and on those whose actor tells (projections.DeletionSource).
	Source string `json:"source,omitempty"`
}

// Rejection is an item refused at intake or at dispatch: its position and error code.
type Rejection struct {
	Index int    `json:"index"`
	Code  string `json:"code"`
}

// DeletionChunkDispatched records that a chunk's persons were handed to their sagas; Failed lists
// the items that could not be (unknown person, not in the group).
type DeletionChunkDispatched struct {
	DeletionID string      `json:"deletion_id"`
	Chunk      int         `json:"chunk"`
	Failed     []Rejection `json:"failed,omitempty"`
}

// PersonDeletionRequested starts a person's deletion saga. With Joins set, a further request
// joined the saga already running under that deletion id and shares its outcome; with ResumeAt
// set, an operator retried a failed saga from that step.
//
// A starting (or resumed) saga on the person's own subject records what it is about to remove:
// the permission groups and faces the person held then. That is the deletion's own evidence,
// and it lets the saga run its steps without reading the person back. A batched person's
// request lists neither: its batch's DeletionBatchStarted, appended with it, does (ADR 0003).
//
// Batch names the batch whose subject records the person's steps (a bulk's persons, or one
// Sophon or Tencent deletion); "" means the person's own subject records them, one event per
// step (retries, group deletions, deletions with external targets, logs written before batches).
type PersonDeletionRequested struct {
	PersonID           string   `json:"person_id"`
	DeletionID         string   `json:"deletion_id"`
	Joins              string   `json:"joins,omitempty"`
	ResumeAt           string   `json:"resume_at,omitempty"`
	PermissionGroupIDs []string `json:"permission_group_ids,omitempty"`
	Faces              []Face   `json:"faces,omitempty"`
	Batch              string   `json:"batch,omitempty"`
}

// DeletionBatchStarted opens a batch: the persons whose PersonDeletionRequested were appended in
// the same atomic batch, just before it and in this order, with what each is to lose. The batch's
// steps follow on its own subject; each person's terminal event follows on the person's.
type DeletionBatchStarted struct {
	DeletionID string        `json:"deletion_id"`
	Batch      string        `json:"batch"`
	Persons    []BatchPerson `json:"persons"`
}

// BatchPerson is one person of a batch and what its deletion removes.
type BatchPerson struct {
	PersonID           string   `json:"person_id"`
	PermissionGroupIDs []string `json:"permission_group_ids,omitempty"`
	Faces              []Face   `json:"faces,omitempty"`
}

// PermissionGroupsUnbound records saga step 2 for the persons it lists: on a batch's subject,
// the persons of the batch that are still in it; on a person's own subject (per-person path,
// and every log written before batches: version 1 held one person), that person.
type PermissionGroupsUnbound struct {
	DeletionID string                   `json:"deletion_id"`
	Batch      string                   `json:"batch,omitempty"`
	Persons    []PersonPermissionGroups `json:"persons"`
}

// PersonPermissionGroups is what step 2 unbound from one person.
type PersonPermissionGroups struct {
	PersonID           string   `json:"person_id"`
	PermissionGroupIDs []string `json:"permission_group_ids"`
}

// FacesPurged records saga step 3 for the persons it lists (see PermissionGroupsUnbound).
type FacesPurged struct {
	DeletionID string        `json:"deletion_id"`
	Batch      string        `json:"batch,omitempty"`
	Persons    []PersonFaces `json:"persons"`
}

// PersonFaces is what step 3 purged of one person.
type PersonFaces struct {
	PersonID string   `json:"person_id"`
	FaceIDs  []string `json:"face_ids"`
}

// PhotosPurged records saga step 4 for the persons it lists (see PermissionGroupsUnbound).
type PhotosPurged struct {
	DeletionID string         `json:"deletion_id"`
	Batch      string         `json:"batch,omitempty"`
	Persons    []PersonPhotos `json:"persons"`
	// Targets are the configured external targets (edge boxes, cloud libraries) the persons must
	// still be deleted from before PersonDeleted; none: the deletion ends at once.
	Targets []string `json:"targets,omitempty"`
}

// PersonPhotos is what step 4 purged of one person.
type PersonPhotos struct {
	PersonID  string   `json:"person_id"`
	PhotoKeys []string `json:"photo_keys"`
}

// DeletionBatchCompleted closes a batch. It is appended in one atomic batch with the terminal
// event of every person still in the batch, so a redelivered last step finds it and ends no
// person twice; the counts say how the batch's persons ended (those split out earlier, as
// failed at a step, included).
type DeletionBatchCompleted struct {
	DeletionID string `json:"deletion_id"`
	Batch      string `json:"batch"`
	Deleted    int    `json:"deleted"`
	Failed     int    `json:"failed"`
	Cancelled  int    `json:"cancelled"`
}

// PersonRemovedFromTargets records that external targets confirmed the person's deletion.
// Remaining lists those still to confirm; none left triggers the last step.
type PersonRemovedFromTargets struct {
	PersonID   string   `json:"person_id"`
	DeletionID string   `json:"deletion_id"`
	Targets    []string `json:"targets"`
	Remaining  []string `json:"remaining,omitempty"`
	Attempts   int      `json:"attempts,omitempty"` // calls it took
}

// PersonDeleted ends a person's life; its data key is destroyed with it.
type PersonDeleted struct {
	PersonID   string `json:"person_id"`
	DeletionID string `json:"deletion_id"`
}

// PersonDeletionFailed ends a saga attempt without deleting; the person stays deleting until retried.
type PersonDeletionFailed struct {
	PersonID   string `json:"person_id"`
	DeletionID string `json:"deletion_id"`
	Code       string `json:"code"`
	Step       string `json:"step"`
	Message    string `json:"message,omitempty"`
	// Targets name the external targets that refused, for step delete_from_targets.
	Targets  []string `json:"targets,omitempty"`
	Attempts int      `json:"attempts,omitempty"`
}

// DeletionCancelled records that a deletion request was cancelled: items not yet past their
// first step end cancelled, the rest finish.
type DeletionCancelled struct {
	DeletionID string `json:"deletion_id"`
}

// PersonDeletionCancelled ends a saga that had not removed anything yet: the person is active again.
type PersonDeletionCancelled struct {
	PersonID   string `json:"person_id"`
	DeletionID string `json:"deletion_id"`
}

// DeletionCompleted records that every item of a deletion request is terminal.
type DeletionCompleted struct {
	DeletionID string `json:"deletion_id"`
	Total      int    `json:"total"`
	Deleted    int    `json:"deleted"`
	Failed     int    `json:"failed"`
	Cancelled  int    `json:"cancelled"`
}

func init() {
	Register[GroupCreated]("GroupCreated", 1)
	Register[GroupDeletionRequested]("GroupDeletionRequested", 1)
	Register[GroupDeleted]("GroupDeleted", 1)
	Register[PersonCreated]("PersonCreated", 1)
	Register[PersonAddedToGroup]("PersonAddedToGroup", 1)
	Register[PersonRemovedFromGroup]("PersonRemovedFromGroup", 1)
	Register[FaceAdded]("FaceAdded", 1)
	Register[FaceDeleted]("FaceDeleted", 1)
	Register[PermissionGroupBound]("PermissionGroupBound", 1)
	Register[PermissionGroupUnbound]("PermissionGroupUnbound", 1)
	Register[PermissionGroupCreated]("PermissionGroupCreated", 1)
	Register[PermissionGroupDeletionRequested]("PermissionGroupDeletionRequested", 1)
	Register[PermissionGroupDeleted]("PermissionGroupDeleted", 1)
	Register[DeletionRequested]("DeletionRequested", 1)
	Register[DeletionChunkDispatched]("DeletionChunkDispatched", 1)
	Register[PersonDeletionRequested]("PersonDeletionRequested", 1)
	Register[PermissionGroupsUnbound]("PermissionGroupsUnbound", 2)
	Register[FacesPurged]("FacesPurged", 2)
	Register[PhotosPurged]("PhotosPurged", 2)
	Register[DeletionBatchStarted]("DeletionBatchStarted", 1)
	Register[DeletionBatchCompleted]("DeletionBatchCompleted", 1)
	Register[PersonRemovedFromTargets]("PersonRemovedFromTargets", 1)
	Register[PersonDeleted]("PersonDeleted", 1)
	Register[PersonDeletionFailed]("PersonDeletionFailed", 1)
	Register[DeletionCompleted]("DeletionCompleted", 1)
	Register[DeletionCancelled]("DeletionCancelled", 1)
	Register[PersonDeletionCancelled]("PersonDeletionCancelled", 1)
}

// DeletionIDOf returns the deletion id a person-deletion event belongs to ("" for other events).
func DeletionIDOf(data any) string {
	switch e := data.(type) {
	case PersonDeletionRequested:
		return e.DeletionID
	case PermissionGroupsUnbound:
		return e.DeletionID
	case FacesPurged:
		return e.DeletionID
	case PhotosPurged:
		return e.DeletionID
	case PersonRemovedFromTargets:
		return e.DeletionID
	case PersonDeleted:
		return e.DeletionID
	case PersonDeletionFailed:
		return e.DeletionID
	case PersonDeletionCancelled:
		return e.DeletionID
	case DeletionBatchStarted:
		return e.DeletionID
	case DeletionBatchCompleted:
		return e.DeletionID
	}
	return ""
}

// PersonIDsOf returns the persons a step event lists, in order (nil for other events).
func PersonIDsOf(data any) []string {
	var ids []string
	switch e := data.(type) {
	case DeletionBatchStarted:
		for _, p := range e.Persons {
			ids = append(ids, p.PersonID)
		}
	case PermissionGroupsUnbound:
		for _, p := range e.Persons {
			ids = append(ids, p.PersonID)
		}
	case FacesPurged:
		for _, p := range e.Persons {
			ids = append(ids, p.PersonID)
		}
	case PhotosPurged:
		for _, p := range e.Persons {
			ids = append(ids, p.PersonID)
		}
	}
	return ids
}
