package console

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/app"
)

// auditPerPage is how many audit entries a page lists.
const auditPerPage = 50

// maxRequestIDLength bounds the request ID a search takes: correlation IDs and deletion IDs
// are far shorter, and a longer one can only be a mistake.
const maxRequestIDLength = 200

// registerAudit adds the Audit page's routes (page wraps a handler in the console's headers and
// session). All three only read, so a read-only key may use each.
func (c *Console) registerAudit(mux *http.ServeMux, page func(http.HandlerFunc) http.Handler) {
	mux.Handle("GET "+Prefix+"audit", page(c.auditPage))
	mux.Handle("GET "+Prefix+"audit/verify", page(c.auditVerifyPage))
	mux.Handle("GET "+Prefix+"audit/as-of", page(c.personAsOfPage))
}

// auditRow is one audit entry as the page lists it.
type auditRow struct {
	Seq                                     uint64
	At                                      time.Time
	Time                                    string // as stored, shown if At could not be read
	Action, Actor, RequestID, DeletionID    string
	PersonIDs, GroupIDs, PermissionGroupIDs []string
	Outcome, Hash, ShortHash, PrevHash      string
}

// chainCheck is the outcome of recomputing the chain, as the page shows it.
type chainCheck struct {
	OK                 bool
	Entries            uint64
	Checkpoint         uint64
	Head, ShortHead    string
	BreakSeq           uint64
	BreakReason        string
	Stored, Recomputed string
	BreakLink          string // the listing that starts at the broken entry
}

type auditPage struct {
	// The search form, as given.
	PersonID, RequestID, From, Until string
	// Listed: a search ran (the Audit page itself, not the verification or the as-of page).
	Listed  bool
	Entries []auditRow
	Next    string
	Paged   bool // this is a later page of the listing
	// The as-of form, as given, and its answer.
	AsOfPerson, AsOfTime string
	AsOf                 *personState
	Check                *chainCheck
}

// auditPage lists the audit entries matching the search form in log order (oldest first: the
// trail is a chain, and its cursor is the log position), a page at a time.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page := auditPage{Listed: true, PersonID: strings.TrimSpace(q.Get("person_id")), RequestID: strings.TrimSpace(q.Get("request_id"))}
	f := auditFilter{PersonID: page.PersonID, RequestID: page.RequestID, Limit: auditPerPage + 1}
	if f.PersonID != "" {
		if err := validID(f.PersonID); err != nil {
			c.fail(w, r, http.StatusBadRequest, fmt.Sprintf("The person ID %q is not valid (%v): use letters, digits and _-%%@#&, up to 64 of them.", f.PersonID, err))
			return
		}
	}
	if len(f.RequestID) > maxRequestIDLength || strings.ContainsFunc(f.RequestID, isControlChar) {
		c.fail(w, r, http.StatusBadRequest, fmt.Sprintf("The request ID is not one this service gives: use a request's correlation ID or a deletion ID (up to %d characters).", maxRequestIDLength))
		return
	}
	var err error
	if f.Since, page.From, err = auditTime(q.Get("from"), false); err != nil {
		c.fail(w, r, http.StatusBadRequest, "From: "+err.Error())
		return
	}
	if f.Until, page.Until, err = auditTime(q.Get("until"), true); err != nil {
		c.fail(w, r, http.StatusBadRequest, "Until: "+err.Error())
		return
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		c.fail(w, r, http.StatusBadRequest, "Until is before From: swap them, or clear one.")
		return
	}
	if after := q.Get("after"); after != "" {
		if f.After, err = decodeAuditCursor(after); err != nil {
			c.fail(w, r, http.StatusBadRequest, "The page link is not one this console made: start from the first page of the search.")
			return
		}
		page.Paged = true
	}
	entries, err := c.backend.auditEntries(r.Context(), f)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	if len(entries) > auditPerPage {
		entries = entries[:auditPerPage]
		next := url.Values{"after": {encodeAuditCursor(entries[len(entries)-1].Seq)}}
		for _, k := range []string{"person_id", "request_id", "from", "until"} {
			if v := q.Get(k); v != "" {
				next.Set(k, v)
			}
		}
		page.Next = Prefix + "audit?" + next.Encode()
	}
	for _, e := range entries {
		page.Entries = append(page.Entries, rowOf(e))
	}
	c.render(w, r, http.StatusOK, "audit", page)
}

// auditVerifyPage recomputes the chain from the log and says whether the stored trail matches
// it, or where it first breaks. It changes nothing, hence a GET any key may use; a break
// answers 409, as GET /v1/audit/verify does.
func (c *Console) auditVerifyPage(w http.ResponseWriter, r *http.Request) {
	// One verification at a time: it reads and hashes the whole trail, and any session (every
	// browser on loopback without keys) may ask for it.
	select {
	case c.verifying <- struct{}{}:
		defer func() { <-c.verifying }()
	default:
		w.Header().Set("Retry-After", "5")
		c.fail(w, r, http.StatusServiceUnavailable, "A verification of the audit trail is running already: try again in a few seconds.")
		return
	}
	v, err := c.backend.verifyAudit(r.Context())
	if err != nil {
		c.internal(w, r, err)
		return
	}
	check := &chainCheck{OK: v.OK, Entries: v.Entries, Checkpoint: v.Checkpoint, Head: v.Head, ShortHead: shortHash(v.Head)}
	status := http.StatusOK
	if b := v.FirstBreak; b != nil {
		status = http.StatusConflict
		check.BreakSeq, check.BreakReason, check.Stored, check.Recomputed = b.Seq, b.Reason, b.Stored, b.Recomputed
		check.BreakLink = Prefix + "audit"
		if b.Seq > 0 {
			check.BreakLink += "?" + url.Values{"after": {encodeAuditCursor(b.Seq - 1)}}.Encode()
		}
	}
	c.render(w, r, status, "audit", auditPage{Check: check})
}

// personAsOfPage shows what the registry held for a person at a moment, rebuilt from the log:
// IDs and state only (personState has no name).
func (c *Console) personAsOfPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page := auditPage{AsOfPerson: strings.TrimSpace(q.Get("person_id"))}
	if page.AsOfPerson == "" || strings.TrimSpace(q.Get("time")) == "" {
		c.fail(w, r, http.StatusBadRequest, "Give both a person ID and a time to see the person's state as of that time.")
		return
	}
	if err := validID(page.AsOfPerson); err != nil {
		c.fail(w, r, http.StatusBadRequest, fmt.Sprintf("The person ID %q is not valid (%v): use letters, digits and _-%%@#&, up to 64 of them.", page.AsOfPerson, err))
		return
	}
	at, shown, err := auditTime(q.Get("time"), false)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, "Time: "+err.Error())
		return
	}
	page.AsOfTime = shown
	p, known, err := c.backend.personAsOf(r.Context(), page.AsOfPerson, at)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	if !known {
		c.fail(w, r, http.StatusNotFound, "The audit trail has no entry for person "+page.AsOfPerson+": this service never registered nor deleted that ID.")
		return
	}
	page.AsOf = &p
	c.render(w, r, http.StatusOK, "audit", page)
}

func rowOf(e auditEntry) auditRow {
	at, _ := time.Parse(app.AuditTimeFormat, e.Time) // zero: the page shows e.Time as stored
	return auditRow{Seq: e.Seq, At: at, Time: e.Time, Action: e.Action, Actor: e.Actor, RequestID: e.RequestID, DeletionID: e.DeletionID,
		PersonIDs: e.PersonIDs, GroupIDs: e.GroupIDs, PermissionGroupIDs: e.PermissionGroupIDs, Outcome: e.Outcome,
		Hash: e.Hash, ShortHash: shortHash(e.Hash), PrevHash: e.PrevHash}
}

// shortHash is the first 12 hex digits of a chain hash: enough to tell entries apart by eye.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// The forms' time layouts: what <input type="datetime-local"> sends (with or without seconds),
// read as UTC.
const (
	localMinute = "2006-01-02T15:04"
	localSecond = "2006-01-02T15:04:05"
)

// auditTime reads a form's time: RFC 3339, or the datetime-local form read as UTC. An end of
// a range given to the minute covers that whole minute. It also returns the value the form's
// datetime-local field shows back ("" for none).
func auditTime(s string, end bool) (time.Time, string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, "", nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t = t.UTC()
		if t.Second() == 0 && t.Nanosecond() == 0 {
			return t, t.Format(localMinute), nil
		}
		return t, t.Format(localSecond), nil
	}
	if t, err := time.Parse(localSecond, s); err == nil {
		return t, s, nil
	}
	if t, err := time.Parse(localMinute, s); err == nil {
		if end {
			return t.Add(time.Minute - time.Microsecond), s, nil
		}
		return t, s, nil
	}
	return time.Time{}, "", fmt.Errorf("%q is not a time: write it as 2026-12-06T09:30 (UTC) or in RFC 3339, such as 2026-12-06T09:30:00Z", s)
}

// encodeAuditCursor makes an opaque, URL-safe cursor of an entry's position in the trail.
func encodeAuditCursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("a" + strconv.FormatUint(seq, 10)))
}

func decodeAuditCursor(s string) (uint64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, err
	}
	n, ok := strings.CutPrefix(string(raw), "a")
	if !ok {
		return 0, fmt.Errorf("malformed cursor")
	}
	return strconv.ParseUint(n, 10, 64)
}

func isControlChar(r rune) bool { return r < 0x20 || r == 0x7f }
