package native

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/projections"
	"github.com/erasure-dev/erasure/receipts"
)

// registerAudit adds the audit trail and the deletion receipts.
func (api *API) registerAudit(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/audit", api.listAudit)
	mux.HandleFunc("GET /v1/audit/verify", api.verifyAudit)
	mux.HandleFunc("GET /v1/audit/as-of", api.personAsOf)
	mux.HandleFunc("GET /v1/receipts/public-key", api.receiptPublicKey)
	mux.HandleFunc("GET /v1/receipts/{person_id}", api.receipt)
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

type auditPage struct {
	Entries []projections.AuditEntry `json:"entries"`
	Next    string                   `json:"next,omitempty"`
}

// listAudit answers GET /v1/audit?person_id=&request_id=&since=&until=&after=&limit=: entries
// oldest first; next is the cursor (after=) of the following page.
func (api *API) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := projections.AuditFilter{PersonID: q.Get("person_id"), RequestID: q.Get("request_id")}
	var err error
	if f.Since, err = parseTime("since", q.Get("since")); err != nil {
		writeError(w, err)
		return
	}
	if f.Until, err = parseTime("until", q.Get("until")); err != nil {
		writeError(w, err)
		return
	}
	after, limit, err := pageParams(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if after != "" {
		if f.After, err = strconv.ParseUint(after, 10, 64); err != nil {
			writeError(w, fmt.Errorf("%w: after must be the next cursor of a previous page", app.ErrInvalidArgument))
			return
		}
	}
	f.Limit = limit
	entries, err := api.app.AuditEntries(r.Context(), f)
	if err != nil {
		writeError(w, err)
		return
	}
	page := auditPage{Entries: entries}
	if len(entries) == limit {
		page.Next = strconv.FormatUint(entries[len(entries)-1].Seq, 10)
	}
	httpx.WriteJSON(w, http.StatusOK, page)
}

// verifyAudit recomputes the chain from the log; a break answers 409 with the report.
func (api *API) verifyAudit(w http.ResponseWriter, r *http.Request) {
	v, err := api.app.VerifyAudit(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	status := http.StatusOK
	if !v.OK {
		status = http.StatusConflict
	}
	httpx.WriteJSON(w, status, v)
}

// personAsOf answers GET /v1/audit/as-of?person_id=&time=.
func (api *API) personAsOf(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("person_id") == "" || q.Get("time") == "" {
		writeError(w, fmt.Errorf("%w: person_id and time are required", errMissing))
		return
	}
	t, err := parseTime("time", q.Get("time"))
	if err != nil {
		writeError(w, err)
		return
	}
	p, err := api.app.PersonAt(r.Context(), q.Get("person_id"), t)
	if err != nil {
		writeError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, p)
}

// receipt answers the signed receipt file exactly as signed, so that it can be saved and
// verified offline (erasure receipt verify).
func (api *API) receipt(w http.ResponseWriter, r *http.Request) {
	b, err := api.app.Receipt(r.Context(), r.PathValue("person_id"), r.URL.Query().Get("deletion_id"))
	if errors.Is(err, receipts.ErrNoReceipt) {
		writeCode(w, http.StatusNotFound, "NO_RECEIPT", err.Error())
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (api *API) receiptPublicKey(w http.ResponseWriter, _ *http.Request) {
	pub, err := api.app.ReceiptPublicKey()
	if err != nil {
		writeError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{
		"algorithm": receipts.Algorithm, "public_key": receipts.EncodePublicKey(pub), "key_id": receipts.KeyID(pub)})
}
