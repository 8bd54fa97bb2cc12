package native

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/app"
)

// registerDeletionList adds the list of deletion requests and a request's failures.
func (api *API) registerDeletionList(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/deletions", answer(api.listDeletions))
	mux.HandleFunc("GET /v1/deletions/{id}/failures", answer(api.deletionFailures))
}

func toDeletionJSON(d app.Deletion) deletionJSON {
	return deletionJSON{deletionCountsJSON: toDeletionCountsJSON(d), GroupID: d.GroupID, CallbackURL: d.CallbackURL,
		CreatedAt: d.CreatedAt.UTC(), CompletedAt: utcPtr(d.CompletedAt)}
}

// listedDeletionJSON is a deletion as GET /v1/deletions/{id} answers it, with who requested it
// and through which surface.
type listedDeletionJSON struct {
	deletionJSON
	Actor  string `json:"actor"`
	Source string `json:"source"`
}

type deletionPage struct {
	Deletions []listedDeletionJSON `json:"deletions"`
	Next      string               `json:"next,omitempty"`
}

// listDeletions answers GET /v1/deletions?state=&since=&until=&actor=&limit=&after=: requests
// newest first; next is the cursor (after=) of the following page, absent on the last.
func (api *API) listDeletions(r *http.Request) (reply, error) {
	q := r.URL.Query()
	f := app.DeletionFilter{State: q.Get("state"), Actor: q.Get("actor")}
	switch f.State {
	case "", "running", "completed", "cancelled":
	default:
		return reply{}, fmt.Errorf("%w: state must be running, completed or cancelled", app.ErrInvalidArgument)
	}
	var err error
	if f.Since, f.Until, err = timeWindow(q); err != nil {
		return reply{}, err
	}
	after, limit, err := pageParams(r)
	if err != nil {
		return reply{}, err
	}
	if after != "" {
		c, err := decodeDeletionCursor(after)
		if err != nil {
			return reply{}, err
		}
		f.After = &c
	}
	f.Limit = limit + 1 // one more tells whether a next page exists
	ds, err := api.app.ListDeletions(r.Context(), f)
	if err != nil {
		return reply{}, err
	}
	page := deletionPage{Deletions: make([]listedDeletionJSON, 0, min(len(ds), limit))}
	if len(ds) > limit {
		ds = ds[:limit]
		page.Next = encodeDeletionCursor(ds[limit-1].Cursor())
	}
	for _, d := range ds {
		page.Deletions = append(page.Deletions, listedDeletionJSON{deletionJSON: toDeletionJSON(d), Actor: d.Actor, Source: d.Source})
	}
	return ok(page), nil
}

// encodeDeletionCursor makes an opaque, URL-safe cursor of a request's creation time and id.
func encodeDeletionCursor(c app.DeletionCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + " " + c.DeletionID))
}

func decodeDeletionCursor(s string) (app.DeletionCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return app.DeletionCursor{}, errBadCursor
	}
	at, id, ok := strings.Cut(string(raw), " ")
	if !ok || id == "" {
		return app.DeletionCursor{}, errBadCursor
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return app.DeletionCursor{}, errBadCursor
	}
	return app.DeletionCursor{CreatedAt: t, DeletionID: id}, nil
}

type failureGroupJSON struct {
	Code     string   `json:"code"`
	Step     string   `json:"step"`
	Target   string   `json:"target"`
	Count    int      `json:"count"`
	Examples []string `json:"examples"`
}

// deletionFailures answers GET /v1/deletions/{id}/failures: the failed items grouped by error
// code, step and target, the largest group first, with up to five person IDs each.
func (api *API) deletionFailures(r *http.Request) (reply, error) {
	groups, err := api.app.DeletionFailures(r.Context(), r.PathValue("id"))
	if err != nil {
		return reply{}, err
	}
	out := struct {
		Groups []failureGroupJSON `json:"groups"`
	}{Groups: make([]failureGroupJSON, len(groups))}
	for i, g := range groups {
		out.Groups[i] = failureGroupJSON{Code: g.Code, Step: g.Step, Target: g.Target, Count: g.Count, Examples: g.Examples}
	}
	return ok(out), nil
}
