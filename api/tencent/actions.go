package tencent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"slices"
	"time"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/domain"
)

// Limits of the Tencent actions, from the SDK's documentation of each field.
const (
	defaultPageLimit     = 10
	maxGroupListLimit    = 1000 // GetGroupList
	maxPersonListLimit   = 1000 // GetPersonList
	maxPersonGroupsLimit = 100  // GetPersonGroupInfo
	maxUploadFaces       = 4    // CreateFace: at most four images at once
	// faceModelVersion is what erasure answers for Tencent's algorithm version: it has no face
	// model, and clients only echo the value.
	faceModelVersion = "3.0"
)

// photoLimits is Tencent's rule on an image's resolution: a JPEG's long side at most 4000 px,
// other formats' 2000 px (FailedOperation.ImageResolutionExceed). Tencent's minimum (a short side
// of 64 px) is not enforced: with no face detector, a small image is still one face.
var photoLimits = app.PhotoLimits{MaxSideJPEG: 4000, MaxSide: 2000}

// faceRect is Tencent's FaceRect. With no face detector, an image is one face filling it.
type faceRect struct {
	X      int64 `json:"X"`
	Y      int64 `json:"Y"`
	Width  int64 `json:"Width"`
	Height int64 `json:"Height"`
}

func rectOf(img []byte) faceRect {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		return faceRect{}
	}
	return faceRect{Width: int64(cfg.Width), Height: int64(cfg.Height)}
}

// profile is what a Tencent person has beyond the native one; personal data, sealed with the
// person's key like the name. The Sophon surface reads the same sealed profile and ignores it.
type profile struct {
	Gender int64 `json:"gender,omitempty"`
}

func genderOf(p app.Person) int64 {
	var pr profile
	if p.Profile != "" && json.Unmarshal([]byte(p.Profile), &pr) == nil {
		return pr.Gender
	}
	return 0
}

func millis(t time.Time) uint64 { return uint64(max(t.UnixMilli(), 0)) }

// personIDOf checks a PersonId parameter.
func personIDOf(p *string) (string, error) {
	if p == nil || *p == "" {
		return "", fmt.Errorf("%w: PersonId", errMissing)
	}
	if err := domain.ValidateID(*p); err != nil {
		return "", fieldError("PersonId", err, errPersonIDIllegal, errPersonIDTooLong)
	}
	return *p, nil
}

// groupIDOf checks a GroupId parameter.
func groupIDOf(p *string) (string, error) {
	if p == nil || *p == "" {
		return "", fmt.Errorf("%w: GroupId", errMissing)
	}
	if err := domain.ValidateID(*p); err != nil {
		return "", fieldError("GroupId", err, errGroupIDIllegal, errGroupIDTooLong)
	}
	return *p, nil
}

// page checks Offset and Limit against an action's maximum.
func page(offset, limit *uint64, maxLimit int) (int, int, error) {
	o, l := 0, defaultPageLimit
	if offset != nil {
		if *offset > 1<<31 {
			return 0, 0, fmt.Errorf("%w: Offset is too large", errInvalid)
		}
		o = int(*offset)
	}
	if limit != nil && *limit > 0 {
		if *limit > uint64(maxLimit) {
			return 0, 0, fmt.Errorf("%w: Limit is at most %d", errLimitExceed, maxLimit)
		}
		l = int(*limit)
	}
	return o, l, nil
}

// activePerson returns a person that is not being deleted: any other action on a person whose
// deletion runs is a conflicting operation.
func (api *API) activePerson(ctx context.Context, id string) (app.Person, error) {
	p, err := api.app.GetPerson(ctx, id)
	if err != nil {
		return app.Person{}, fmt.Errorf("person %s: %w", id, err)
	}
	if p.State != string(domain.StatusActive) {
		return app.Person{}, fmt.Errorf("person %s: %w", id, domain.ErrPersonDeleting)
	}
	return p, nil
}

func (api *API) createGroup(ctx context.Context, c app.Caller, decode func(any) error) (any, error) {
	var req struct {
		GroupName           *string  `json:"GroupName"`
		GroupID             *string  `json:"GroupId"`
		GroupExDescriptions []string `json:"GroupExDescriptions"`
		Tag                 *string  `json:"Tag"`
		FaceModelVersion    *string  `json:"FaceModelVersion"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	id, err := groupIDOf(req.GroupID)
	if err != nil {
		return nil, err
	}
	if req.GroupName == nil {
		return nil, fmt.Errorf("%w: GroupName", errMissing)
	}
	if err := validateName(*req.GroupName); err != nil {
		return nil, fieldError("GroupName", err, errGroupNameIllegal, errGroupNameTooLong)
	}
	tag := ""
	if req.Tag != nil {
		tag = *req.Tag
	}
	if err := validateTag(tag); err != nil {
		return nil, fieldError("Tag", err, errGroupTagIllegal, errGroupTagTooLong)
	}
	if _, err := api.app.CreateGroup(ctx, c, id, *req.GroupName, tag); err != nil {
		return nil, err
	}
	return struct {
		FaceModelVersion string `json:"FaceModelVersion"`
	}{faceModelVersion}, nil
}

func (api *API) deleteGroup(ctx context.Context, c app.Caller, decode func(any) error) (any, error) {
	var req struct {
		GroupID *string `json:"GroupId"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	id, err := groupIDOf(req.GroupID)
	if err != nil {
		return nil, err
	}
	// Answered as soon as the group is deleting; the group-deletion saga runs on.
	if _, err := api.app.DeleteGroup(ctx, c, id); err != nil {
		return nil, err
	}
	return nil, nil
}

type groupInfo struct {
	GroupName           string   `json:"GroupName"`
	GroupID             string   `json:"GroupId"`
	GroupExDescriptions []string `json:"GroupExDescriptions"`
	Tag                 string   `json:"Tag"`
	FaceModelVersion    string   `json:"FaceModelVersion"`
	CreationTimestamp   uint64   `json:"CreationTimestamp"`
}

func toGroupInfo(g app.GroupInfo) groupInfo {
	return groupInfo{GroupName: g.Name, GroupID: g.GroupID, GroupExDescriptions: []string{}, Tag: g.Tag,
		FaceModelVersion: faceModelVersion, CreationTimestamp: millis(g.CreatedAt)}
}

func (api *API) getGroupInfo(ctx context.Context, _ app.Caller, decode func(any) error) (any, error) {
	var req struct {
		GroupID *string `json:"GroupId"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	id, err := groupIDOf(req.GroupID)
	if err != nil {
		return nil, err
	}
	g, err := api.app.ActiveGroup(ctx, id)
	if err != nil {
		return nil, err
	}
	return toGroupInfo(g), nil
}

func (api *API) getGroupList(ctx context.Context, _ app.Caller, decode func(any) error) (any, error) {
	var req struct {
		Offset *uint64 `json:"Offset"`
		Limit  *uint64 `json:"Limit"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	offset, limit, err := page(req.Offset, req.Limit, maxGroupListLimit)
	if err != nil {
		return nil, err
	}
	groups, total, err := api.app.GroupPage(ctx, offset, limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		GroupInfos []groupInfo `json:"GroupInfos"`
		GroupNum   int         `json:"GroupNum"`
	}{GroupInfos: make([]groupInfo, len(groups)), GroupNum: total}
	for i, g := range groups {
		out.GroupInfos[i] = toGroupInfo(g)
	}
	return out, nil
}

func (api *API) createPerson(ctx context.Context, c app.Caller, decode func(any) error) (any, error) {
	var req struct {
		GroupID                  *string           `json:"GroupId"`
		PersonName               *string           `json:"PersonName"`
		PersonID                 *string           `json:"PersonId"`
		Gender                   *int64            `json:"Gender"`
		PersonExDescriptionInfos []json.RawMessage `json:"PersonExDescriptionInfos"`
		Image                    *string           `json:"Image"`
		URL                      *string           `json:"Url"`
		UniquePersonControl      *uint64           `json:"UniquePersonControl"`
		QualityControl           *uint64           `json:"QualityControl"`
		NeedRotateDetection      *uint64           `json:"NeedRotateDetection"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	groupID, err := groupIDOf(req.GroupID)
	if err != nil {
		return nil, err
	}
	personID, err := personIDOf(req.PersonID)
	if err != nil {
		return nil, err
	}
	if req.PersonName == nil {
		return nil, fmt.Errorf("%w: PersonName", errMissing)
	}
	if err := validateName(*req.PersonName); err != nil {
		return nil, fieldError("PersonName", err, errPersonNameIllegal, errPersonNameTooLong)
	}
	var pr profile
	if req.Gender != nil {
		if *req.Gender < 0 || *req.Gender > 2 {
			return nil, errGenderIllegal
		}
		pr.Gender = *req.Gender
	}
	if req.URL != nil && *req.URL != "" {
		return nil, fmt.Errorf("%w: Url (erasure fetches no image); send the image in Image", errUnsupported)
	}
	if req.Image == nil {
		return nil, fmt.Errorf("Image: %w", app.ErrImageEmpty)
	}
	img, err := app.DecodePhoto(ctx, *req.Image, photoLimits)
	if err != nil {
		return nil, fmt.Errorf("Image: %w", err)
	}
	in := app.CreatePersonInput{PersonID: personID, Name: *req.PersonName, GroupIDs: []string{groupID},
		Photos: []app.NewPhoto{{Image: img}}}
	if pr.Gender != 0 {
		raw, _ := json.Marshal(pr)
		in.Profile = string(raw)
	}
	faceIDs, err := api.app.CreatePerson(ctx, c, in)
	if err != nil {
		return nil, err
	}
	return struct {
		FaceID           string   `json:"FaceId"`
		FaceRect         faceRect `json:"FaceRect"`
		SimilarPersonID  string   `json:"SimilarPersonId"`
		FaceModelVersion string   `json:"FaceModelVersion"`
	}{faceIDs[0], rectOf(img), "", faceModelVersion}, nil
}

// deletePerson deletes the person everywhere: every group, face, photo and permission binding.
func (api *API) deletePerson(ctx context.Context, c app.Caller, decode func(any) error) (any, error) {
	var req struct {
		PersonID *string `json:"PersonId"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	id, err := personIDOf(req.PersonID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, api.cfg.Wait)
	defer cancel()
	if _, err := api.app.DeletePersonAndWait(ctx, c, id, ""); err != nil {
		return nil, err
	}
	return nil, nil
}

// deletePersonFromGroup removes one membership, and deletes the person entirely when that was
// its last group.
func (api *API) deletePersonFromGroup(ctx context.Context, c app.Caller, decode func(any) error) (any, error) {
	var req struct {
		PersonID *string `json:"PersonId"`
		GroupID  *string `json:"GroupId"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	personID, err := personIDOf(req.PersonID)
	if err != nil {
		return nil, err
	}
	groupID, err := groupIDOf(req.GroupID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, api.cfg.Wait)
	defer cancel()
	if _, err := api.app.DeletePersonAndWait(ctx, c, personID, groupID); err != nil {
		return nil, err
	}
	return nil, nil
}

func (api *API) getPersonBaseInfo(ctx context.Context, _ app.Caller, decode func(any) error) (any, error) {
	var req struct {
		PersonID *string `json:"PersonId"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	id, err := personIDOf(req.PersonID)
	if err != nil {
		return nil, err
	}
	p, err := api.activePerson(ctx, id)
	if err != nil {
		return nil, err
	}
	return struct {
		PersonName string   `json:"PersonName"`
		Gender     int64    `json:"Gender"`
		FaceIDs    []string `json:"FaceIds"`
	}{p.Name, genderOf(p), p.FaceIDs}, nil
}

type personGroupInfo struct {
	GroupID              string   `json:"GroupId"`
	PersonExDescriptions []string `json:"PersonExDescriptions"`
}

func (api *API) getPersonGroupInfo(ctx context.Context, _ app.Caller, decode func(any) error) (any, error) {
	var req struct {
		PersonID *string `json:"PersonId"`
		Offset   *uint64 `json:"Offset"`
		Limit    *uint64 `json:"Limit"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	id, err := personIDOf(req.PersonID)
	if err != nil {
		return nil, err
	}
	offset, limit, err := page(req.Offset, req.Limit, maxPersonGroupsLimit)
	if err != nil {
		return nil, err
	}
	p, err := api.activePerson(ctx, id)
	if err != nil {
		return nil, err
	}
	out := struct {
		PersonGroupInfos []personGroupInfo `json:"PersonGroupInfos"`
		GroupNum         int               `json:"GroupNum"`
		FaceModelVersion string            `json:"FaceModelVersion"`
	}{PersonGroupInfos: []personGroupInfo{}, GroupNum: len(p.GroupIDs), FaceModelVersion: faceModelVersion}
	for _, g := range p.GroupIDs[min(offset, len(p.GroupIDs)):min(offset+limit, len(p.GroupIDs))] {
		out.PersonGroupInfos = append(out.PersonGroupInfos, personGroupInfo{GroupID: g, PersonExDescriptions: []string{}})
	}
	return out, nil
}

type personInfo struct {
	PersonName           string   `json:"PersonName"`
	PersonID             string   `json:"PersonId"`
	Gender               int64    `json:"Gender"`
	PersonExDescriptions []string `json:"PersonExDescriptions"`
	FaceIDs              []string `json:"FaceIds"`
	CreationTimestamp    uint64   `json:"CreationTimestamp"`
}

func (api *API) getPersonList(ctx context.Context, _ app.Caller, decode func(any) error) (any, error) {
	var req struct {
		GroupID *string `json:"GroupId"`
		Offset  *uint64 `json:"Offset"`
		Limit   *uint64 `json:"Limit"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	groupID, err := groupIDOf(req.GroupID)
	if err != nil {
		return nil, err
	}
	offset, limit, err := page(req.Offset, req.Limit, maxPersonListLimit)
	if err != nil {
		return nil, err
	}
	members, total, faces, err := api.app.GroupMembersPage(ctx, groupID, offset, limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		PersonInfos      []personInfo `json:"PersonInfos"`
		PersonNum        int          `json:"PersonNum"`
		FaceNum          int          `json:"FaceNum"`
		FaceModelVersion string       `json:"FaceModelVersion"`
	}{PersonInfos: make([]personInfo, len(members)), PersonNum: total, FaceNum: faces, FaceModelVersion: faceModelVersion}
	for i, p := range members {
		out.PersonInfos[i] = personInfo{PersonName: p.Name, PersonID: p.PersonID, Gender: genderOf(p.Person),
			PersonExDescriptions: []string{}, FaceIDs: p.FaceIDs, CreationTimestamp: millis(p.CreatedAt)}
	}
	return out, nil
}

// Per-image outcomes of CreateFace (its RetCode list).
const (
	retOK            = 0
	retDecodeFailure = -1102
)

func (api *API) createFace(ctx context.Context, c app.Caller, decode func(any) error) (any, error) {
	var req struct {
		PersonID            *string  `json:"PersonId"`
		Images              []string `json:"Images"`
		Urls                []string `json:"Urls"`
		FaceMatchThreshold  *float64 `json:"FaceMatchThreshold"`
		QualityControl      *uint64  `json:"QualityControl"`
		NeedRotateDetection *uint64  `json:"NeedRotateDetection"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	id, err := personIDOf(req.PersonID)
	if err != nil {
		return nil, err
	}
	if len(req.Urls) > 0 {
		return nil, fmt.Errorf("%w: Urls (erasure fetches no image); send the images in Images", errUnsupported)
	}
	if len(req.Images) == 0 {
		return nil, fmt.Errorf("Images: %w", app.ErrImageEmpty)
	}
	if len(req.Images) > maxUploadFaces {
		return nil, fmt.Errorf("%w: %d images", errUploadFaceNum, len(req.Images))
	}
	p, err := api.activePerson(ctx, id)
	if err != nil {
		return nil, err
	}
	// An undecodable image is that image's failure (RetCode), as Tencent answers; an empty or
	// oversized one, or one over the resolution limit, fails the call.
	photos := make([][]byte, len(req.Images))
	decoded := 0
	for i, b64 := range req.Images {
		img, err := app.DecodePhoto(ctx, b64, photoLimits)
		switch {
		case errors.Is(err, app.ErrImageUndecodable):
		case err != nil:
			return nil, fmt.Errorf("Images[%d]: %w", i, err)
		default:
			photos[i] = img
			decoded++
		}
	}
	if decoded == 0 {
		return nil, fmt.Errorf("Images: %w", app.ErrImageUndecodable)
	}
	if len(p.FaceIDs)+decoded > domain.MaxFacesPerPerson {
		return nil, fmt.Errorf("person %s has %d faces, %d more: %w", id, len(p.FaceIDs), decoded, domain.ErrTooManyFaces)
	}
	out := struct {
		SucFaceNum       int        `json:"SucFaceNum"`
		SucFaceIDs       []string   `json:"SucFaceIds"`
		RetCode          []int64    `json:"RetCode"`
		SucIndexes       []int      `json:"SucIndexes"`
		SucFaceRects     []faceRect `json:"SucFaceRects"`
		FaceModelVersion string     `json:"FaceModelVersion"`
	}{SucFaceIDs: []string{}, RetCode: make([]int64, len(photos)), SucIndexes: []int{}, SucFaceRects: []faceRect{},
		FaceModelVersion: faceModelVersion}
	for i, img := range photos {
		if img == nil {
			out.RetCode[i] = retDecodeFailure
			continue
		}
		f, err := api.app.AddFace(ctx, c, id, app.NewPhoto{Image: img})
		if err != nil {
			return nil, err
		}
		out.RetCode[i] = retOK
		out.SucFaceNum++
		out.SucFaceIDs = append(out.SucFaceIDs, f.FaceID)
		out.SucIndexes = append(out.SucIndexes, i)
		out.SucFaceRects = append(out.SucFaceRects, rectOf(img))
	}
	return out, nil
}

func (api *API) deleteFace(ctx context.Context, c app.Caller, decode func(any) error) (any, error) {
	var req struct {
		PersonID *string  `json:"PersonId"`
		FaceIDs  []string `json:"FaceIds"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	id, err := personIDOf(req.PersonID)
	if err != nil {
		return nil, err
	}
	if len(req.FaceIDs) == 0 {
		return nil, fmt.Errorf("%w: FaceIds", errMissing)
	}
	p, err := api.activePerson(ctx, id)
	if err != nil {
		return nil, err
	}
	var doomed []string
	for _, f := range req.FaceIDs {
		if slices.Contains(p.FaceIDs, f) && !slices.Contains(doomed, f) {
			doomed = append(doomed, f)
		}
	}
	if len(doomed) > 0 && len(p.FaceIDs)-len(doomed) < 1 {
		return nil, fmt.Errorf("%w: person %s has %d faces", errDeleteFaceNum, id, len(p.FaceIDs))
	}
	out := struct {
		SucDeletedNum int      `json:"SucDeletedNum"`
		SucFaceIDs    []string `json:"SucFaceIds"`
	}{SucFaceIDs: []string{}}
	for _, f := range doomed {
		if err := api.app.DeleteFace(ctx, c, id, f); err != nil && !errors.Is(err, domain.ErrFaceNotFound) {
			return nil, err
		}
		out.SucDeletedNum++
		out.SucFaceIDs = append(out.SucFaceIDs, f)
	}
	return out, nil
}

func (api *API) copyPerson(ctx context.Context, c app.Caller, decode func(any) error) (any, error) {
	var req struct {
		PersonID *string  `json:"PersonId"`
		GroupIDs []string `json:"GroupIds"`
	}
	if err := decode(&req); err != nil {
		return nil, err
	}
	id, err := personIDOf(req.PersonID)
	if err != nil {
		return nil, err
	}
	if len(req.GroupIDs) == 0 {
		return nil, fmt.Errorf("%w: GroupIds", errMissing)
	}
	for _, g := range req.GroupIDs {
		if _, err := groupIDOf(&g); err != nil {
			return nil, err
		}
	}
	if len(req.GroupIDs) > domain.MaxGroupsPerPerson {
		return nil, fmt.Errorf("%d groups: %w", len(req.GroupIDs), domain.ErrTooManyGroups)
	}
	if _, err := api.activePerson(ctx, id); err != nil {
		return nil, err
	}
	if err := api.app.AddPersonToGroups(ctx, c, id, req.GroupIDs); err != nil {
		return nil, err
	}
	return struct {
		SucGroupNum int      `json:"SucGroupNum"`
		SucGroupIDs []string `json:"SucGroupIds"`
	}{len(req.GroupIDs), req.GroupIDs}, nil
}
