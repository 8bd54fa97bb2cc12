package native

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/receipts"
)

// registerAudit adds the audit trail and the deletion receipts.
func (api *API) registerAudit(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/audit", answer(api.listAudit))
	mux.HandleFunc("GET /v1/audit/verify", answer(api.verifyAudit))
	mux.HandleFunc("GET /v1/audit/as-of", answer(api.personAsOf))
	mux.HandleFunc("GET /v1/receipts/public-key", answer(api.receiptPublicKey))
	mux.HandleFunc("GET /v1/receipts/{person_id}", answer(api.receipt))
}

// parseTime reads an RFC 3339 time, or a date (midnight UTC).
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %s must be an RFC 3339 time such as 2025-01-31T12:00:00Z, or a date", app.ErrInvalidArgument, name)
}

// timeWindow reads the since= and until= of a list that can be narrowed to a time window (the
// audit trail, the deletion requests); either may be absent (zero).
func timeWindow(q url.Values) (since, until time.Time, err error) {
	if since, err = parseTime("since", q.Get("since")); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if until, err = parseTime("until", q.Get("until")); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return since, until, nil
}

// errBadCursor answers an after= that no page of the list handed out.
var errBadCursor = fmt.Errorf("%w: after must be the next cursor of a previous page", app.ErrInvalidArgument)

type auditPage struct {
	Entries []app.AuditEntry `json:"entries"`
	Next    string           `json:"next,omitempty"`
}

// listAudit answers GET /v1/audit?person_id=&request_id=&since=&until=&after=&limit=: entries
// oldest first; next is the cursor (after=) of the following page.
func (api *API) listAudit(r *http.Request) (reply, error) {
	q := r.URL.Query()
	f := app.AuditFilter{PersonID: q.Get("person_id"), RequestID: q.Get("request_id")}
	var err error
	if f.Since, f.Until, err = timeWindow(q); err != nil {
		return reply{}, err
	}
	after, limit, err := pageParams(r)
	if err != nil {
		return reply{}, err
	}
	if after != "" {
		if f.After, err = strconv.ParseUint(after, 10, 64); err != nil {
			return reply{}, errBadCursor
		}
	}
	f.Limit = limit
	entries, err := api.app.AuditEntries(r.Context(), f)
	if err != nil {
		return reply{}, err
	}
	page := auditPage{Entries: entries}
	if len(entries) == limit {
		page.Next = strconv.FormatUint(entries[len(entries)-1].Seq, 10)
	}
	return ok(page), nil
}

// verifyAudit recomputes the chain from the log; a break answers 409 with the report.
func (api *API) verifyAudit(r *http.Request) (reply, error) {
	v, err := api.app.VerifyAudit(r.Context())
	if err != nil {
		return reply{}, err
	}
	status := http.StatusOK
	if !v.OK {
		status = http.StatusConflict
	}
	return reply{status: status, body: v}, nil
}

// personAsOf answers GET /v1/audit/as-of?person_id=&time=.
func (api *API) personAsOf(r *http.Request) (reply, error) {
	q := r.URL.Query()
	if q.Get("person_id") == "" || q.Get("time") == "" {
		return reply{}, fmt.Errorf("%w: person_id and time are required", errMissing)
	}
	t, err := parseTime("time", q.Get("time"))
	if err != nil {
		return reply{}, err
	}
	p, err := api.app.PersonAt(r.Context(), q.Get("person_id"), t)
	if err != nil {
		return reply{}, err
	}
	return ok(p), nil
}

// receipt answers the signed receipt file exactly as signed, so that it can be saved and
// verified offline (erasure receipt verify).
func (api *API) receipt(r *http.Request) (reply, error) {
	b, err := api.app.Receipt(r.Context(), r.PathValue("person_id"), r.URL.Query().Get("deletion_id"))
	if err != nil {
		return reply{}, err
	}
	return ok(rawJSON(b)), nil
}

func (api *API) receiptPublicKey(*http.Request) (reply, error) {
	pub, err := api.app.ReceiptPublicKey()
	if err != nil {
		return reply{}, err
	}
	return ok(map[string]string{
		"algorithm": receipts.Algorithm, "public_key": receipts.EncodePublicKey(pub), "key_id": receipts.KeyID(pub)}), nil
}
