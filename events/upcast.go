package events

import (
	"encoding/json"
	"fmt"
)

// Older schema versions, kept so that a log written by an earlier erasure replays into the
// current read models. Each is lifted to the next version by its upcaster, registered here beside
// the current types (types.go); the shapes are fixed forever, the fixtures under testdata/ hold
// examples, and TestUpcastFixturesReplay checks they project as their current form does.

// personCreatedV0 is PersonCreated before multi-group registration and permission groups: one
// group, and faces as parallel lists of face ids and photo keys.
type personCreatedV0 struct {
	PersonID  string   `json:"person_id"`
	Name      Sealed   `json:"name"`
	GroupID   string   `json:"group_id,omitempty"`
	FaceIDs   []string `json:"face_ids"`
	PhotoKeys []string `json:"photo_keys"`
}

// deletionRequestedV0 is DeletionRequested before requests were chunked: every ID in one event.
type deletionRequestedV0 struct {
	DeletionID string   `json:"deletion_id"`
	PersonIDs  []string `json:"person_ids"`
	GroupID    string   `json:"group_id,omitempty"`
}

// personDeletionFailedV0 is PersonDeletionFailed before the error field was named code.
type personDeletionFailedV0 struct {
	PersonID   string `json:"person_id"`
	DeletionID string `json:"deletion_id"`
	Error      string `json:"error"`
	FailedStep string `json:"failed_step"`
}

// permissionGroupsUnboundV1, facesPurgedV1 and photosPurgedV1 are the step events before batches:
// one person each, on the person's own subject. Version 2 lists persons; a version 1 event is a
// list of one, so one projector serves both.
type permissionGroupsUnboundV1 struct {
	PersonID           string   `json:"person_id"`
	DeletionID         string   `json:"deletion_id"`
	PermissionGroupIDs []string `json:"permission_group_ids"`
}

type facesPurgedV1 struct {
	PersonID   string   `json:"person_id"`
	DeletionID string   `json:"deletion_id"`
	FaceIDs    []string `json:"face_ids"`
}

type photosPurgedV1 struct {
	PersonID   string   `json:"person_id"`
	DeletionID string   `json:"deletion_id"`
	PhotoKeys  []string `json:"photo_keys"`
	Targets    []string `json:"targets,omitempty"`
}

func upcastPermissionGroupsUnboundV1(raw json.RawMessage) (json.RawMessage, error) {
	var v permissionGroupsUnboundV1
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(PermissionGroupsUnbound{DeletionID: v.DeletionID,
		Persons: []PersonPermissionGroups{{PersonID: v.PersonID, PermissionGroupIDs: orEmpty(v.PermissionGroupIDs)}}})
}

func upcastFacesPurgedV1(raw json.RawMessage) (json.RawMessage, error) {
	var v facesPurgedV1
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(FacesPurged{DeletionID: v.DeletionID, Persons: []PersonFaces{{PersonID: v.PersonID, FaceIDs: orEmpty(v.FaceIDs)}}})
}

func upcastPhotosPurgedV1(raw json.RawMessage) (json.RawMessage, error) {
	var v photosPurgedV1
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(PhotosPurged{DeletionID: v.DeletionID, Targets: v.Targets,
		Persons: []PersonPhotos{{PersonID: v.PersonID, PhotoKeys: orEmpty(v.PhotoKeys)}}})
}

func orEmpty(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

func upcastPersonCreatedV0(raw json.RawMessage) (json.RawMessage, error) {
	var v personCreatedV0
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if len(v.FaceIDs) != len(v.PhotoKeys) {
		return nil, fmt.Errorf("%d face ids but %d photo keys", len(v.FaceIDs), len(v.PhotoKeys))
	}
	out := PersonCreated{PersonID: v.PersonID, Name: v.Name, GroupIDs: []string{}, PermissionGroupIDs: []string{}, Faces: []Face{}}
	if v.GroupID != "" {
		out.GroupIDs = append(out.GroupIDs, v.GroupID)
	}
	for i, id := range v.FaceIDs {
		out.Faces = append(out.Faces, Face{FaceID: id, PhotoKey: v.PhotoKeys[i]})
	}
	return json.Marshal(out)
}

func upcastDeletionRequestedV0(raw json.RawMessage) (json.RawMessage, error) {
	var v deletionRequestedV0
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if v.PersonIDs == nil {
		v.PersonIDs = []string{}
	}
	return json.Marshal(DeletionRequested{DeletionID: v.DeletionID, PersonIDs: v.PersonIDs, GroupID: v.GroupID,
		Last: true, Total: len(v.PersonIDs)})
}

func upcastPersonDeletionFailedV0(raw json.RawMessage) (json.RawMessage, error) {
	var v personDeletionFailedV0
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(PersonDeletionFailed{PersonID: v.PersonID, DeletionID: v.DeletionID, Code: v.Error, Step: v.FailedStep})
}

func init() {
	RegisterUpcaster("PersonCreated", 0, upcastPersonCreatedV0)
	RegisterUpcaster("DeletionRequested", 0, upcastDeletionRequestedV0)
	RegisterUpcaster("PersonDeletionFailed", 0, upcastPersonDeletionFailedV0)
	RegisterUpcaster("PermissionGroupsUnbound", 1, upcastPermissionGroupsUnboundV1)
	RegisterUpcaster("FacesPurged", 1, upcastFacesPurgedV1)
	RegisterUpcaster("PhotosPurged", 1, upcastPhotosPurgedV1)
}
