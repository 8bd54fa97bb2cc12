// Package native is erasure's own JSON API under /v1, plus /healthz and /readyz. It translates
// HTTP to the application layer and the application's errors to {"error":{"code","message"}}.
package native

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/domain"
)

// Limits of the native API.
const (
	maxGroupBody  = 64 << 10
	maxPersonBody = 32 << 20 // five photos of 5 MB base64 each, and the rest
	defaultLimit  = 100
	maxLimit      = 1000
)

// API serves the native surface.
type API struct {
	app    *app.App
	logger *slog.Logger
	bulk   chan struct{} // slots of bulk deletion requests (limits.go)
	// streams caps the open live-progress streams (streams.go).
	streams *streamSlots
}

// New returns the native API over a.
func New(a *app.App, logger *slog.Logger) *API {
	return (&API{app: a, logger: logger, bulk: make(chan struct{}, DefaultMaxBulk)}).SetStreamLimits(0, 0)
}

// Register adds the native routes to mux.
func (api *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/groups", answer(api.createGroup))
	mux.HandleFunc("GET /v1/groups", answer(api.listGroups))
	mux.HandleFunc("GET /v1/groups/{id}", answer(api.getGroup))
	mux.HandleFunc("POST /v1/persons", answer(api.createPerson))
	mux.HandleFunc("GET /v1/persons", answer(api.listPersons))
	mux.HandleFunc("GET /v1/persons/{id}", answer(api.getPerson))
	api.registerDeletions(mux)
	api.registerAudit(mux)
	api.registerGroups(mux)
	api.registerWebhooks(mux)
	api.registerEvents(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", api.ready)
	mux.HandleFunc("GET /openapi.json", serveOpenAPI)
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeCode(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
}

// Panic writes the native 500 answer.
func Panic(w http.ResponseWriter, _ *http.Request) {
	writeCode(w, http.StatusInternalServerError, "INTERNAL", "internal error")
}

// caller is who asks, as the request's events record it: the request id, and as the actor the
// name of the API key it authenticated with (native-api where no key is required).
func caller(r *http.Request) app.Caller {
	return app.Caller{RequestID: httpx.RequestID(r), Actor: cmp.Or(httpx.Client(r), "native-api")}
}

// decodeJSON reads a JSON body of at most limit bytes into v, refusing another content type.
func decodeJSON(r *http.Request, limit int64, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	return httpx.DecodeJSON(r, limit, v)
}

func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	// curl -d sends application/x-www-form-urlencoded unless told otherwise; the body is JSON all
	// the same, so accept it rather than fail the first command a newcomer types.
	if err != nil || (mt != "application/json" && mt != "application/x-www-form-urlencoded") {
		return fmt.Errorf("%w, got %q", errUnsupportedMediaType, ct)
	}
	return nil
}

func (api *API) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := api.app.Ready(ctx); err != nil {
		writeCode(w, http.StatusServiceUnavailable, "NOT_READY", err.Error())
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type groupJSON struct {
	GroupID     string `json:"group_id"`
	Name        string `json:"name"`
	Tag         string `json:"tag"`
	State       string `json:"state"`
	PersonCount int    `json:"person_count"`
}

func toGroupJSON(g app.Group) groupJSON {
	return groupJSON{GroupID: g.GroupID, Name: g.Name, Tag: g.Tag, State: g.State, PersonCount: g.PersonCount}
}

func (api *API) createGroup(r *http.Request) (reply, error) {
	var req struct {
		GroupID *string `json:"group_id"`
		Name    *string `json:"name"`
		Tag     string  `json:"tag"`
	}
	if err := decodeJSON(r, maxGroupBody, &req); err != nil {
		return reply{}, err
	}
	if req.GroupID == nil || req.Name == nil {
		return reply{}, fmt.Errorf("%w: group_id and name are required", errMissing)
	}
	g, err := api.app.CreateGroup(r.Context(), caller(r), *req.GroupID, *req.Name, req.Tag)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, body: toGroupJSON(g)}, nil
}

func (api *API) getGroup(r *http.Request) (reply, error) {
	g, err := api.app.GetGroup(r.Context(), r.PathValue("id"))
	if err != nil {
		return reply{}, err
	}
	return ok(toGroupJSON(g)), nil
}

func pageParams(r *http.Request) (string, int, error) {
	limit := defaultLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return "", 0, fmt.Errorf("%w: limit must be 1..%d", app.ErrInvalidArgument, maxLimit)
		}
		limit = n
	}
	return r.URL.Query().Get("after"), limit, nil
}

func (api *API) listGroups(r *http.Request) (reply, error) {
	after, limit, err := pageParams(r)
	if err != nil {
		return reply{}, err
	}
	groups, err := api.app.ListGroups(r.Context(), after, limit)
	if err != nil {
		return reply{}, err
	}
	out := struct {
		Groups []groupJSON `json:"groups"`
		Next   string      `json:"next,omitempty"`
	}{Groups: make([]groupJSON, len(groups))}
	for i, g := range groups {
		out.Groups[i] = toGroupJSON(g)
	}
	if len(groups) == limit {
		out.Next = groups[len(groups)-1].GroupID
	}
	return ok(out), nil
}

func (api *API) createPerson(r *http.Request) (reply, error) {
	var req struct {
		PersonID           *string  `json:"person_id"`
		Name               *string  `json:"name"`
		GroupIDs           []string `json:"group_ids"`
		PermissionGroupIDs []string `json:"permission_group_ids"`
		Photos             []struct {
			ImageBase64 string `json:"image_base64"`
		} `json:"photos"`
	}
	if err := decodeJSON(r, maxPersonBody, &req); err != nil {
		return reply{}, err
	}
	if req.PersonID == nil || req.Name == nil {
		return reply{}, fmt.Errorf("%w: person_id and name are required", errMissing)
	}
	in := app.CreatePersonInput{PersonID: *req.PersonID, Name: *req.Name, GroupIDs: req.GroupIDs, PermissionGroupIDs: req.PermissionGroupIDs}
	if len(req.Photos) > 5 {
		return reply{}, fmt.Errorf("%d photos: %w", len(req.Photos), domain.ErrTooManyFaces)
	}
	for i, p := range req.Photos {
		img, err := app.DecodePhoto(r.Context(), p.ImageBase64, app.DefaultPhotoLimits)
		if err != nil {
			return reply{}, fmt.Errorf("photos[%d]: %w", i, err)
		}
		in.Photos = append(in.Photos, app.NewPhoto{Image: img})
	}
	faceIDs, err := api.app.CreatePerson(r.Context(), caller(r), in)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, body: map[string]any{"person_id": in.PersonID, "face_ids": faceIDs}}, nil
}

type personJSON struct {
	PersonID           string   `json:"person_id"`
	Name               string   `json:"name"`
	State              string   `json:"state"`
	GroupIDs           []string `json:"group_ids"`
	PermissionGroupIDs []string `json:"permission_group_ids"`
	FaceIDs            []string `json:"face_ids"`
}

func toPersonJSON(p app.Person) personJSON {
	return personJSON{PersonID: p.PersonID, Name: p.Name, State: p.State, GroupIDs: p.GroupIDs,
		PermissionGroupIDs: p.PermissionGroupIDs, FaceIDs: p.FaceIDs}
}

func (api *API) getPerson(r *http.Request) (reply, error) {
	p, err := api.app.GetPerson(r.Context(), r.PathValue("id"))
	if err != nil {
		return reply{}, err
	}
	return ok(toPersonJSON(p)), nil
}

func (api *API) listPersons(r *http.Request) (reply, error) {
	after, limit, err := pageParams(r)
	if err != nil {
		return reply{}, err
	}
	persons, err := api.app.ListPersons(r.Context(), r.URL.Query().Get("group_id"), after, limit)
	if err != nil {
		return reply{}, err
	}
	out := struct {
		Persons []personJSON `json:"persons"`
		Next    string       `json:"next,omitempty"`
	}{Persons: make([]personJSON, len(persons))}
	for i, p := range persons {
		out.Persons[i] = toPersonJSON(p)
	}
	if len(persons) == limit {
		out.Next = persons[len(persons)-1].PersonID
	}
	return ok(out), nil
}
