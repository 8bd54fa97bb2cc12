package sophon

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/domain"
)

// Identity defaults and rules from the createidentity doc.
const (
	defaultIdentityName = "佚名" // the doc's default for identity_name
	defaultUserType     = "employee"
	// maxFeatureLength bounds register_feature. The doc shows float[512]; other models give 128
	// or 256 values, so any length up to this bound is kept as it is.
	maxFeatureLength = 4096
	// maxExtUserInfo bounds ext_user_info's JSON: twenty short fields in the doc.
	maxExtUserInfo = 8 << 10
)

var (
	userTypes  = []string{"employee", "visitor", "blacklist", "stranger", "vip"}
	fiqaLevels = []string{"no", "low", "normal", "high"}
)

// faceSource is the "one of three" face of createidentity and addface.
type faceSource struct {
	RegisterFeature   []float32 `json:"register_feature"`
	RegisterImage     string    `json:"register_image"`
	RegisterImagePath string    `json:"register_image_path"`
	// FiqaLevel is checked and otherwise ignored: with no face detector there is no quality
	// check to tune (any decodable image is one face).
	FiqaLevel string `json:"fiqa_level"`
}

// photo turns the source into the face to register. A feature vector is kept as the face
// record's bytes (little-endian float32), never in the log; it has no registration photo.
func (s faceSource) photo(ctx context.Context) (app.NewPhoto, error) {
	if s.RegisterImagePath != "" {
		return app.NewPhoto{}, fmt.Errorf("%w: register_image_path (a file on the server) is not supported; send the image in register_image", errInvalid)
	}
	if s.FiqaLevel != "" && !slices.Contains(fiqaLevels, s.FiqaLevel) {
		return app.NewPhoto{}, fmt.Errorf("%w: fiqa_level must be one of %v", errInvalid, fiqaLevels)
	}
	hasImage, hasFeature := s.RegisterImage != "", len(s.RegisterFeature) > 0
	switch {
	case hasImage && hasFeature:
		// The doc says "one of three" and not which wins; guessing could register the wrong face.
		return app.NewPhoto{}, fmt.Errorf("%w: give one of register_image and register_feature, not both", errInvalid)
	case hasImage:
		img, err := app.DecodePhoto(ctx, s.RegisterImage, app.DefaultPhotoLimits)
		if err != nil {
			return app.NewPhoto{}, fmt.Errorf("register_image: %w", err)
		}
		return app.NewPhoto{Image: img}, nil
	case hasFeature:
		if len(s.RegisterFeature) > maxFeatureLength {
			return app.NewPhoto{}, fmt.Errorf("%w: register_feature has %d values, at most %d", errInvalid, len(s.RegisterFeature), maxFeatureLength)
		}
		feature := make([]byte, 0, 4*len(s.RegisterFeature))
		for _, f := range s.RegisterFeature {
			feature = binary.LittleEndian.AppendUint32(feature, math.Float32bits(f))
		}
		return app.NewPhoto{Feature: feature}, nil
	}
	return app.NewPhoto{}, fmt.Errorf("%w: one of register_image and register_feature", errMissing)
}

// profile is what a Sophon identity has beyond the native person; it is personal data, sealed
// with the person's key like the name.
type profile struct {
	UserType    string          `json:"user_type"`
	ExtUserInfo json.RawMessage `json:"ext_user_info,omitempty"`
}

type identityJSON struct {
	IdentityID       string          `json:"identity_id"`
	IdentityName     string          `json:"identity_name"`
	UserType         string          `json:"user_type"`
	PermissionIDs    []string        `json:"permission_ids"`
	ExtUserInfo      json.RawMessage `json:"ext_user_info"`
	FaceIDs          []string        `json:"face_ids"`
	RegisterImageIDs []string        `json:"register_image_ids"`
}

// facesJSON is the answer of addface and deleteface.
type facesJSON struct {
	IdentityID       string   `json:"identity_id"`
	TotalFaceCnt     int      `json:"total_face_cnt"`
	FaceIDs          []string `json:"face_ids"`
	RegisterImageIDs []string `json:"register_image_ids"`
}

// faceLists splits faces into the two parallel lists Sophon answers. A face registered from a
// feature vector lists its photo key too (the lists correspond one to one); getregisterimage
// answers ID_NOT_FOUND for it.
func faceLists(faces []app.Face) (faceIDs, imageIDs []string) {
	faceIDs, imageIDs = make([]string, len(faces)), make([]string, len(faces))
	for i, f := range faces {
		faceIDs[i], imageIDs[i] = f.FaceID, f.PhotoKey
	}
	return faceIDs, imageIDs
}

func (api *API) identity(ctx context.Context, p app.Person) (identityJSON, error) {
	faces, err := api.app.Faces(ctx, p.PersonID)
	if err != nil {
		return identityJSON{}, err
	}
	out := identityJSON{IdentityID: p.PersonID, IdentityName: p.Name, UserType: defaultUserType,
		PermissionIDs: p.PermissionGroupIDs, ExtUserInfo: json.RawMessage(`{}`)}
	out.FaceIDs, out.RegisterImageIDs = faceLists(faces)
	if p.Profile != "" {
		var pr profile
		if err := json.Unmarshal([]byte(p.Profile), &pr); err != nil {
			return identityJSON{}, fmt.Errorf("profile of %s: %w", p.PersonID, err)
		}
		if pr.UserType != "" {
			out.UserType = pr.UserType
		}
		if len(pr.ExtUserInfo) > 0 {
			out.ExtUserInfo = pr.ExtUserInfo
		}
	}
	if out.PermissionIDs == nil {
		out.PermissionIDs = []string{}
	}
	return out, nil
}

// activePerson returns a person Sophon can see: one being deleted is already gone for a Sophon
// client, which has no notion of "deleting" (its deleteidentities asked for it to go).
func (api *API) activePerson(ctx context.Context, id string) (app.Person, error) {
	if err := domain.ValidateID(id); err != nil {
		return app.Person{}, fmt.Errorf("identity_id: %w", err)
	}
	p, err := api.app.GetPerson(ctx, id)
	if err != nil {
		return app.Person{}, fmt.Errorf("identity %s: %w", id, err)
	}
	if p.State != string(domain.StatusActive) {
		return app.Person{}, fmt.Errorf("identity %s is being deleted: %w", id, domain.ErrPersonNotFound)
	}
	return p, nil
}

func (api *API) createIdentity(r *http.Request) (any, error) {
	var req struct {
		faceSource
		IdentityName  *string         `json:"identity_name"`
		IdentityID    string          `json:"identity_id"`
		UserType      string          `json:"user_type"`
		PermissionIDs []string        `json:"permission_ids"`
		ExtUserInfo   json.RawMessage `json:"ext_user_info"`
		ForceReplace  bool            `json:"force_replace"`
	}
	if err := decode(r, maxImageBody, &req); err != nil {
		return nil, err
	}
	ph, err := req.photo(r.Context())
	if err != nil {
		return nil, err
	}
	in := app.CreatePersonInput{PersonID: req.IdentityID, Name: defaultIdentityName, PermissionGroupIDs: req.PermissionIDs,
		Photos: []app.NewPhoto{ph}, RequirePermissionGroups: true}
	if in.PersonID == "" {
		in.PersonID = app.NewID()
	}
	if req.IdentityName != nil && *req.IdentityName != "" {
		in.Name = *req.IdentityName
	}
	if in.Profile, err = profileOf(req.UserType, req.ExtUserInfo); err != nil {
		return nil, err
	}
	if req.ForceReplace {
		if err := api.replace(r.Context(), caller(r), in.PersonID); err != nil {
			return nil, err
		}
	}
	faceIDs, err := api.app.CreatePerson(r.Context(), caller(r), in)
	if err != nil {
		return nil, err
	}
	faces, err := api.app.Faces(r.Context(), in.PersonID)
	if err != nil {
		return nil, err
	}
	imageID := ""
	if i := slices.IndexFunc(faces, func(f app.Face) bool { return f.FaceID == faceIDs[0] }); i >= 0 {
		imageID = faces[i].PhotoKey
	}
	return map[string]string{"identity_id": in.PersonID, "face_id": faceIDs[0], "register_image_id": imageID}, nil
}

// profileOf checks user_type and ext_user_info and returns the profile to seal.
func profileOf(userType string, ext json.RawMessage) (string, error) {
	if userType == "" {
		userType = defaultUserType
	}
	if !slices.Contains(userTypes, userType) {
		return "", fmt.Errorf("%w: user_type must be one of %v", errInvalid, userTypes)
	}
	pr := profile{UserType: userType}
	if t := bytes.TrimSpace(ext); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		if t[0] != '{' {
			return "", fmt.Errorf("%w: ext_user_info must be an object", errInvalid)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, t); err != nil {
			return "", fmt.Errorf("%w: ext_user_info: %v", errInvalid, err)
		}
		if buf.Len() > maxExtUserInfo {
			return "", fmt.Errorf("%w: ext_user_info is over %d bytes", errInvalid, maxExtUserInfo)
		}
		pr.ExtUserInfo = buf.Bytes()
	}
	b, err := json.Marshal(pr)
	return string(b), err
}

// replace deletes an existing identity for force_replace, through the same deletion request as
// deleteidentities, so that what it held downstream is purged before the new one is registered.
func (api *API) replace(ctx context.Context, c app.Caller, id string) error {
	if err := domain.ValidateID(id); err != nil {
		return fmt.Errorf("identity_id: %w", err)
	}
	if _, err := api.app.GetPerson(ctx, id); errors.Is(err, domain.ErrPersonNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	ans, err := api.deleteAndWait(ctx, c, []string{id}, "")
	if err != nil {
		return err
	}
	if slices.Contains(ans.Success, id) {
		return nil
	}
	if _, err := api.app.GetPerson(ctx, id); errors.Is(err, domain.ErrPersonNotFound) {
		return nil // deleted by another request meanwhile
	}
	return fmt.Errorf("%w: force_replace of %s (deletion %s); retry", errNotReplaced, id, ans.RequestID)
}

func (api *API) getIdentity(r *http.Request) (any, error) {
	var req struct {
		IdentityID string `json:"identity_id"`
	}
	if err := decode(r, maxSmallBody, &req); err != nil {
		return nil, err
	}
	if req.IdentityID == "" {
		return nil, fmt.Errorf("%w: identity_id", errMissing)
	}
	p, err := api.activePerson(r.Context(), req.IdentityID)
	if err != nil {
		return nil, err
	}
	out, err := api.identity(r.Context(), p)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (api *API) getIdentities(r *http.Request) (any, error) {
	var req struct {
		Filters struct {
			PermissionIDList []string `json:"permission_id_list"`
			IdentityName     string   `json:"identity_name"`
			IdentityID       string   `json:"identity_id"`
		} `json:"filters"`
		PageLimit *int `json:"page_limit"`
		PageIndex *int `json:"page_index"`
	}
	if err := decode(r, maxSmallBody, &req); err != nil {
		return nil, err
	}
	limit, offset, err := page(req.PageLimit, req.PageIndex)
	if err != nil {
		return nil, err
	}
	f := app.PersonFilter{PersonID: req.Filters.IdentityID, NameContains: req.Filters.IdentityName, PermissionGroupIDs: req.Filters.PermissionIDList}
	if f.PersonID != "" {
		if err := domain.ValidateID(f.PersonID); err != nil {
			return nil, fmt.Errorf("filters.identity_id: %w", err)
		}
	}
	if err := domain.ValidateIDs(f.PermissionGroupIDs); err != nil {
		return nil, fmt.Errorf("filters.permission_id_list %w", err)
	}
	// An unknown permission group is the doc's ID_NOT_FOUND, not an empty page.
	for _, id := range f.PermissionGroupIDs {
		if _, err := api.app.GetPermissionGroup(r.Context(), id); err != nil {
			return nil, err
		}
	}
	persons, total, err := api.app.FindPersons(r.Context(), f, offset, limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		Identities []identityJSON `json:"identities"`
		Pagination paginationJSON `json:"pagination"`
	}{Identities: make([]identityJSON, 0, len(persons)), Pagination: paginationJSON{PageIndex: offset / limit, PageLimit: limit, TotalCount: total}}
	for _, p := range persons {
		id, err := api.identity(r.Context(), p)
		if err != nil {
			return nil, err
		}
		out.Identities = append(out.Identities, id)
	}
	return out, nil
}

// facesAnswer is the state of an identity's faces after addface or deleteface.
func (api *API) facesAnswer(ctx context.Context, id string) (facesJSON, error) {
	faces, err := api.app.Faces(ctx, id)
	if err != nil {
		return facesJSON{}, err
	}
	out := facesJSON{IdentityID: id, TotalFaceCnt: len(faces)}
	out.FaceIDs, out.RegisterImageIDs = faceLists(faces)
	return out, nil
}

func (api *API) addFace(r *http.Request) (any, error) {
	var req struct {
		faceSource
		IdentityID string `json:"identity_id"`
	}
	if err := decode(r, maxImageBody, &req); err != nil {
		return nil, err
	}
	if req.IdentityID == "" {
		return nil, fmt.Errorf("%w: identity_id", errMissing)
	}
	ph, err := req.photo(r.Context())
	if err != nil {
		return nil, err
	}
	if _, err := api.activePerson(r.Context(), req.IdentityID); err != nil {
		return nil, err
	}
	if _, err := api.app.AddFace(r.Context(), caller(r), req.IdentityID, ph); err != nil {
		return nil, err
	}
	out, err := api.facesAnswer(r.Context(), req.IdentityID)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (api *API) deleteFace(r *http.Request) (any, error) {
	var req struct {
		IdentityID      string `json:"identity_id"`
		RegisterImageID string `json:"register_image_id"`
		FaceID          string `json:"face_id"`
	}
	if err := decode(r, maxSmallBody, &req); err != nil {
		return nil, err
	}
	if req.IdentityID == "" {
		return nil, fmt.Errorf("%w: identity_id", errMissing)
	}
	if req.RegisterImageID == "" && req.FaceID == "" {
		return nil, fmt.Errorf("%w: register_image_id or face_id", errMissing)
	}
	if _, err := api.activePerson(r.Context(), req.IdentityID); err != nil {
		return nil, err
	}
	faceID := req.FaceID
	if req.RegisterImageID != "" { // the doc: with both, only register_image_id counts
		faces, err := api.app.Faces(r.Context(), req.IdentityID)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(faces, func(f app.Face) bool { return f.PhotoKey == req.RegisterImageID })
		if i < 0 {
			return nil, fmt.Errorf("register_image_id %s: %w", req.RegisterImageID, domain.ErrFaceNotFound)
		}
		faceID = faces[i].FaceID
	}
	if err := api.app.DeleteFace(r.Context(), caller(r), req.IdentityID, faceID); err != nil {
		return nil, fmt.Errorf("face %s: %w", faceID, err)
	}
	out, err := api.facesAnswer(r.Context(), req.IdentityID)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// getRegisterImage answers a registration photo in base64 (our JSON form of the box's
// getregisterimage, whose doc answers the image itself over GET: see getRegisterImageFile).
func (api *API) getRegisterImage(r *http.Request) (any, error) {
	var req struct {
		RegisterImageID string `json:"register_image_id"`
		IdentityID      string `json:"identity_id"`
	}
	if err := decode(r, maxSmallBody, &req); err != nil {
		return nil, err
	}
	if req.RegisterImageID == "" {
		return nil, fmt.Errorf("%w: register_image_id", errMissing)
	}
	personID, photo, err := api.registrationPhoto(r.Context(), req.RegisterImageID)
	if err == nil && req.IdentityID != "" && req.IdentityID != personID {
		err = fmt.Errorf("register_image_id %s of identity %s: %w", req.RegisterImageID, req.IdentityID, domain.ErrFaceNotFound)
	}
	if err != nil {
		return nil, err
	}
	return map[string]string{"identity_id": personID, "register_image_id": req.RegisterImageID,
		"register_image": base64.StdEncoding.EncodeToString(photo)}, nil
}

// getRegisterImageFile is the doc's GET /getregisterimage/{image_id}, answering the image with
// its content type. A failure is answered as a Sophon error rather than the doc's blank image,
// which a client cannot tell from a photo.
func (api *API) getRegisterImageFile(r *http.Request) (any, error) {
	_, photo, err := api.registrationPhoto(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return imageFile(photo), nil
}

func (api *API) registrationPhoto(ctx context.Context, id string) (string, []byte, error) {
	if err := domain.ValidateID(id); err != nil {
		return "", nil, fmt.Errorf("register_image_id: %w", err)
	}
	return api.app.RegistrationPhoto(ctx, id)
}
