package native

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/app"
)

// Limits of deletion requests.
const (
	maxDeletionJSONBody = 16 << 20 // JSON bodies are read whole; stream millions as text/plain or NDJSON
	maxLineLength       = 4096
)

func (api *API) registerDeletions(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/deletions", api.bulkLimited(answer(api.createDeletion)))
	api.registerDeletionList(mux)
	mux.HandleFunc("GET /v1/deletions/{id}", answer(api.getDeletion))
	mux.HandleFunc("GET /v1/deletions/{id}/items", answer(api.deletionItems))
	mux.HandleFunc("POST /v1/deletions/{id}/retry", answer(api.retryDeletion))
	mux.HandleFunc("POST /v1/deletions/{id}/cancel", answer(api.cancelDeletion))
	mux.HandleFunc("GET /v1/targets", answer(api.listTargets))
}

func (api *API) createDeletion(r *http.Request) (reply, error) {
	mt := "application/json"
	if ct := r.Header.Get("Content-Type"); ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return reply{}, fmt.Errorf("%w: %q", errUnsupportedMediaType, ct)
		}
	}
	q := r.URL.Query()
	in := app.DeletionInput{GroupID: q.Get("group_id"), IdempotencyKey: q.Get("idempotency_key"), CallbackURL: q.Get("callback_url"),
		CallbackFormat: q.Get("callback_format")}
	switch mt {
	case "application/json", "application/x-www-form-urlencoded":
		var req struct {
			PersonIDs      []string `json:"person_ids"`
			GroupID        string   `json:"group_id"`
			IdempotencyKey string   `json:"idempotency_key"`
			CallbackURL    string   `json:"callback_url"`
			CallbackFormat string   `json:"callback_format"` // standard (default) or sophon
		}
		if err := httpx.DecodeJSON(r, maxDeletionJSONBody, &req); err != nil {
			return reply{}, err
		}
		if len(req.PersonIDs) == 0 {
			return reply{}, fmt.Errorf("%w: person_ids must name at least one id", errMissing)
		}
		in = app.DeletionInput{GroupID: req.GroupID, IdempotencyKey: req.IdempotencyKey, CallbackURL: req.CallbackURL,
			CallbackFormat: req.CallbackFormat,
			IDs: func(yield func(string) bool) error {
				for _, id := range req.PersonIDs {
					if !yield(id) {
						return nil
					}
				}
				return nil
			}}
	case "text/plain":
		in.IDs = lines(r.Body, func(line string) (string, error) { return line, nil })
	case "application/x-ndjson":
		in.IDs = lines(r.Body, ndjsonID)
	default:
		return reply{}, fmt.Errorf("%w: deletions take application/json, text/plain or application/x-ndjson, got %q", errUnsupportedMediaType, mt)
	}
	if err := validateCallback(in.CallbackURL); err != nil {
		return reply{}, err
	}
	id, existing, err := api.app.RequestDeletion(r.Context(), caller(r), in)
	if err != nil {
		return reply{}, err
	}
	status := http.StatusAccepted
	if existing {
		status = http.StatusOK
	}
	return reply{status: status, body: map[string]any{"deletion_id": id, "status_url": "/v1/deletions/" + id, "existing": existing}}, nil
}

// lines streams one ID a line: blank lines, CR and surrounding spaces are ignored. A line that
// is too long or does not parse is passed on as it is (cut short), so it becomes an INVALID_ID
// item instead of failing the whole request.
func lines(body io.Reader, parse func(string) (string, error)) func(func(string) bool) error {
	return func(yield func(string) bool) error {
		br := bufio.NewReaderSize(body, 64<<10)
		n := 0
		for {
			line, err := readLine(br)
			if len(line) > 0 || err == nil {
				n++
				if s := strings.TrimSpace(line); s != "" {
					id, perr := parse(s)
					if perr != nil {
						id = s
					}
					if !yield(id) {
						return nil
					}
				}
			}
			if err == io.EOF {
				return nil
			}
			if errors.Is(err, httpx.ErrSlowBody) {
				// The stream stalled: the request ends, and its bulk slot is free again.
				return fmt.Errorf("after line %d: %w", n, err)
			}
			if err != nil {
				return fmt.Errorf("%w: after line %d: %v", errBadLine, n, err)
			}
		}
	}
}

// readLine reads one line, keeping at most maxLineLength bytes of it.
func readLine(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		chunk, isPrefix, err := br.ReadLine()
		if sb.Len() < maxLineLength {
			sb.Write(chunk[:min(len(chunk), maxLineLength-sb.Len())])
		}
		if err != nil || !isPrefix {
			return sb.String(), err
		}
	}
}

// ndjsonID reads a line that is a JSON string or {"person_id": "..."}.
func ndjsonID(line string) (string, error) {
	if strings.HasPrefix(line, `"`) {
		var s string
		err := json.Unmarshal([]byte(line), &s)
		return s, err
	}
	var obj struct {
		PersonID string `json:"person_id"`
	}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&obj); err != nil {
		return "", err
	}
	return obj.PersonID, nil
}

func validateCallback(u string) error {
	if u == "" {
		return nil
	}
	if len(u) > 2048 || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
		return fmt.Errorf("%w: callback_url must be an http(s) URL of at most 2048 characters", app.ErrInvalidArgument)
	}
	return nil
}

// deletionCountsJSON is a deletion request's state and counters: the start of a request as
// GET /v1/deletions/{id} answers it and of each progress event of its stream, which must agree.
type deletionCountsJSON struct {
	DeletionID string `json:"deletion_id"`
	State      string `json:"state"`
	Total      int    `json:"total"`
	Pending    int    `json:"pending"`
	Deleted    int    `json:"deleted"`
	Failed     int    `json:"failed"`
	Cancelled  int    `json:"cancelled"`
}

func toDeletionCountsJSON(d app.Deletion) deletionCountsJSON {
	return deletionCountsJSON{DeletionID: d.DeletionID, State: d.State, Total: d.Total, Pending: d.Pending,
		Deleted: d.Deleted, Failed: d.Failed, Cancelled: d.Cancelled}
}

type deletionJSON struct {
	deletionCountsJSON
	GroupID     string     `json:"group_id,omitempty"`
	CallbackURL string     `json:"callback_url,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletedAt *time.Time `json:"completed_at"`
}

func (api *API) getDeletion(r *http.Request) (reply, error) {
	d, err := api.app.GetDeletion(r.Context(), r.PathValue("id"))
	if err != nil {
		return reply{}, err
	}
	return ok(toDeletionJSON(d)), nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

type itemError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Step    string `json:"step,omitempty"`
}

type itemJSON struct {
	PersonID string     `json:"person_id"`
	State    string     `json:"state"`
	Error    *itemError `json:"error,omitempty"`
	// Targets are the external targets' outcomes (a deployment with --targets).
	Targets []app.TargetOutcome `json:"targets,omitempty"`
}

func (api *API) deletionItems(r *http.Request) (reply, error) {
	q := r.URL.Query()
	state := q.Get("state")
	switch state {
	case "", "pending", "deleted", "failed", "cancelled":
	default:
		return reply{}, fmt.Errorf("%w: state must be pending, deleted, failed or cancelled", app.ErrInvalidArgument)
	}
	after := int64(-1)
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return reply{}, fmt.Errorf("%w: after must be a cursor from a previous page", app.ErrInvalidArgument)
		}
		after = n
	}
	_, limit, err := pageParams(r)
	if err != nil {
		return reply{}, err
	}
	// An unknown code or target is no error: it selects nothing, like a code no item has yet.
	f := app.ItemFilter{State: state, Code: q.Get("code"), Target: q.Get("target")}
	items, err := api.app.DeletionItemsWhere(r.Context(), r.PathValue("id"), f, after, limit)
	if err != nil {
		return reply{}, err
	}
	out := struct {
		Items []itemJSON `json:"items"`
		Next  *string    `json:"next"`
	}{Items: make([]itemJSON, len(items))}
	for i, it := range items {
		out.Items[i] = itemJSON{PersonID: it.PersonID, State: it.State, Targets: it.Targets}
		if it.ErrorCode != "" {
			out.Items[i].Error = &itemError{Code: it.ErrorCode, Message: it.ErrorMessage, Step: it.ErrorStep}
		}
	}
	if len(items) == limit {
		next := strconv.FormatInt(items[len(items)-1].Position, 10)
		out.Next = &next
	}
	return ok(out), nil
}

// maxRetryBody bounds a retry's body: one failure group's code, step and target.
const maxRetryBody = 4 << 10

// retryDeletion retries the request's items that failed at a step: all of them, or with a body
// {"code","step","target"} only those of that failure group (GET .../failures); an empty field
// matches any value.
func (api *API) retryDeletion(r *http.Request) (reply, error) {
	group, err := retryGroup(r)
	if err != nil {
		return reply{}, err
	}
	n, err := api.app.RetryFailures(r.Context(), caller(r), r.PathValue("id"), group)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted, body: map[string]any{"deletion_id": r.PathValue("id"), "retried": n}}, nil
}

// retryGroup reads a retry's optional body; no body (or only spaces) selects every failure.
func retryGroup(r *http.Request) (app.FailureKey, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRetryBody+1))
	if errors.Is(err, httpx.ErrSlowBody) {
		return app.FailureKey{}, err
	}
	if err != nil {
		return app.FailureKey{}, fmt.Errorf("%w: %v", httpx.ErrInvalidJSON, err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return app.FailureKey{}, nil
	}
	if err := requireJSON(r); err != nil {
		return app.FailureKey{}, err
	}
	var req struct {
		Code   string `json:"code"`
		Step   string `json:"step"`
		Target string `json:"target"`
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := httpx.DecodeJSON(r, maxRetryBody, &req); err != nil {
		return app.FailureKey{}, err
	}
	return app.FailureKey{Code: req.Code, Step: req.Step, Target: req.Target}, nil
}

// cancelDeletion answers the request as GET /v1/deletions/{id} shows it once cancelled.
func (api *API) cancelDeletion(r *http.Request) (reply, error) {
	if err := api.app.CancelDeletion(r.Context(), caller(r), r.PathValue("id")); err != nil {
		return reply{}, err
	}
	return api.getDeletion(r)
}
