package console

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Page sizes.
const (
	deletionsPerPage = 50
	itemsPerPage     = 100
)

// progress is a deletion's bar: counters, share done, rate and estimated time left.
type progress struct {
	ID, State                           string
	Total, Done                         int
	Pending, Deleted, Failed, Cancelled int
	Percent                             int
	Running                             bool
	Rate, ETA                           string // "" when unknown
}

// progressOf measures d at now. The rate is the average since the request was made: steady
// enough for an estimate, and it needs no history the read model does not keep.
func progressOf(d deletion, now time.Time) progress {
	p := progress{ID: d.DeletionID, State: d.State, Total: d.Total, Pending: d.Pending, Deleted: d.Deleted,
		Failed: d.Failed, Cancelled: d.Cancelled, Running: d.State == "running" && d.CompletedAt == nil}
	p.Done = d.Deleted + d.Failed + d.Cancelled
	if d.Total > 0 {
		p.Percent = p.Done * 100 / d.Total // 100 only once every item is done
	}
	elapsed := since(d, now).Seconds()
	if p.Done > 0 && elapsed > 0 {
		rate := float64(p.Done) / elapsed
		p.Rate = formatRate(rate)
		if p.Running && p.Pending > 0 {
			p.ETA = formatDuration(time.Duration(float64(p.Pending) / rate * float64(time.Second)))
		}
	}
	return p
}

func formatRate(perSecond float64) string {
	switch {
	case perSecond >= 100:
		return fmt.Sprintf("%.0f/s", perSecond)
	case perSecond >= 1:
		return fmt.Sprintf("%.1f/s", perSecond)
	default:
		return fmt.Sprintf("%.1f/min", perSecond*60)
	}
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return "under 1s"
	case d < time.Minute:
		return fmt.Sprintf("%.0fs", math.Ceil(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// listedDeletion is one row of the Deletions page.
type listedDeletion struct {
	deletion
	Progress progress
}

type deletionsPage struct {
	Deletions                        []listedDeletion
	State, Actor, Since, Until, Next string
	Error                            string
}

// deletionsPage lists deletion requests newest first, with the filters of GET /v1/deletions.
func (c *Console) deletionsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page := deletionsPage{State: q.Get("state"), Actor: strings.TrimSpace(q.Get("actor")), Since: q.Get("since"), Until: q.Get("until")}
	f := deletionFilter{State: page.State, Actor: page.Actor, Limit: deletionsPerPage + 1}
	var bad []string
	switch f.State {
	case "", "running", "completed", "cancelled":
	default:
		bad, f.State = append(bad, "state must be running, completed or cancelled"), ""
	}
	var err error
	if f.Since, err = parseDay(page.Since, false); err != nil {
		bad = append(bad, "since: "+err.Error())
	}
	if f.Until, err = parseDay(page.Until, true); err != nil {
		bad = append(bad, "until: "+err.Error())
	}
	if after := q.Get("after"); after != "" {
		cur, err := decodeCursor(after)
		if err != nil {
			bad = append(bad, "the page link is not one this console made; start from the first page")
		} else {
			f.After = &cur
		}
	}
	if len(bad) > 0 {
		page.Error = strings.Join(bad, "; ")
		c.render(w, r, http.StatusBadRequest, "deletions", page)
		return
	}
	ds, err := c.backend.listDeletions(r.Context(), f)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	if len(ds) > deletionsPerPage {
		ds = ds[:deletionsPerPage]
		next := url.Values{"after": {encodeCursor(ds[len(ds)-1].Cursor())}}
		for _, k := range []string{"state", "actor", "since", "until"} {
			if v := q.Get(k); v != "" {
				next.Set(k, v)
			}
		}
		page.Next = Prefix + "?" + next.Encode()
	}
	now := c.now()
	for _, d := range ds {
		page.Deletions = append(page.Deletions, listedDeletion{deletion: d, Progress: progressOf(d, now)})
	}
	c.render(w, r, http.StatusOK, "deletions", page)
}

// parseDay reads a filter's time: a day (2026-12-06, from a date field: its start, or for
// until its end) or an RFC 3339 time.
func parseDay(s string, endOfDay bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if endOfDay {
			t = t.Add(24*time.Hour - time.Nanosecond)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a day (2026-12-06) nor a time (2026-12-06T09:30:00Z)", s)
	}
	return t, nil
}

// encodeCursor makes an opaque, URL-safe cursor of a request's position in the list.
func encodeCursor(c deletionCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + " " + c.DeletionID))
}

func decodeCursor(s string) (deletionCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return deletionCursor{}, err
	}
	at, id, ok := strings.Cut(string(raw), " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || id == "" {
		return deletionCursor{}, fmt.Errorf("malformed cursor")
	}
	return deletionCursor{CreatedAt: t, DeletionID: id}, nil
}

// itemRow is one item of the Deletion page's table.
type itemRow struct {
	PersonID, State, Code, Step, Message string
	Targets                              []string // "target: state" of each external target
}

type deletionPage struct {
	deletion
	Progress                progress
	Failures                []failureGroup
	StepFailed              string
	Items                   []itemRow
	ItemState, Code, Target string
	NextItems               string
	Notice                  string
}

// deletionPage shows one deletion: counters, progress, failures by group, items.
func (c *Console) deletionPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, ok := c.loadDeletion(w, r, id)
	if !ok {
		return
	}
	q := r.URL.Query()
	page := deletionPage{deletion: d, Progress: progressOf(d, c.now()), StepFailed: stepFailed,
		ItemState: q.Get("state"), Code: strings.TrimSpace(q.Get("code")), Target: strings.TrimSpace(q.Get("target"))}
	switch page.ItemState {
	case "", "pending", "deleted", "failed", "cancelled":
	default:
		page.ItemState = ""
	}
	if n := q.Get("retried"); n != "" {
		page.Notice = "Retried " + n + " items."
	}
	if q.Get("cancelled") != "" {
		page.Notice = "The deletion is cancelled: items not yet past their first step stop; the rest finish."
	}
	var err error
	if page.Failures, err = c.backend.failures(r.Context(), id); err != nil {
		c.internal(w, r, err)
		return
	}
	after := int64(-1)
	if s := q.Get("after"); s != "" {
		if raw, err := base64.RawURLEncoding.DecodeString(s); err == nil {
			if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil && n >= 0 {
				after = n
			}
		}
	}
	items, err := c.backend.items(r.Context(), id, itemFilter{State: page.ItemState, Code: page.Code, Target: page.Target}, after, itemsPerPage)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	for _, it := range items {
		row := itemRow{PersonID: it.PersonID, State: it.State, Code: it.ErrorCode, Step: it.ErrorStep, Message: it.ErrorMessage}
		for _, t := range it.Targets {
			row.Targets = append(row.Targets, t.Target+": "+t.State)
		}
		page.Items = append(page.Items, row)
	}
	if len(items) == itemsPerPage {
		next := url.Values{"after": {base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(items[len(items)-1].Position, 10)))}}
		for k, v := range map[string]string{"state": page.ItemState, "code": page.Code, "target": page.Target} {
			if v != "" {
				next.Set(k, v)
			}
		}
		page.NextItems = Prefix + "deletions/" + url.PathEscape(id) + "?" + next.Encode() + "#items"
	}
	c.render(w, r, http.StatusOK, "deletion", page)
}

// loadDeletion reads deletion id, answering the page itself when it cannot.
func (c *Console) loadDeletion(w http.ResponseWriter, r *http.Request, id string) (deletion, bool) {
	d, err := c.backend.deletion(r.Context(), id)
	if isNotFound(err) {
		c.fail(w, r, http.StatusNotFound, "There is no deletion "+id+".")
		return deletion{}, false
	}
	if err != nil {
		c.internal(w, r, err)
		return deletion{}, false
	}
	return d, true
}

// progressFragment is the bar htmx polls; once the deletion is done the fragment it returns
// polls no more.
func (c *Console) progressFragment(w http.ResponseWriter, r *http.Request) {
	d, err := c.backend.deletion(r.Context(), r.PathValue("id"))
	if isNotFound(err) {
		http.Error(w, "no such deletion", http.StatusNotFound)
		return
	}
	if err != nil {
		c.internal(w, r, err)
		return
	}
	name := "progress"
	if r.URL.Query().Get("compact") != "" {
		name = "progress-compact"
	}
	c.fragment(w, r, "deletion", name, progressOf(d, c.now()))
}

type cancelPage struct {
	deletion
	Progress progress
}

// cancelPage asks for confirmation, saying how many items the cancellation stops.
func (c *Console) cancelPage(w http.ResponseWriter, r *http.Request) {
	d, ok := c.loadDeletion(w, r, r.PathValue("id"))
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, "cancel", cancelPage{deletion: d, Progress: progressOf(d, c.now())})
}

func (c *Console) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ss := sessionOf(r)
	if err := c.backend.cancel(r.Context(), ss.actor, requestID(r), id); err != nil {
		c.answerChangeError(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"deletions/"+url.PathEscape(id)+"?cancelled=1", http.StatusSeeOther)
}

// retry resumes one failure group's items (its code, step and target), or all failures.
func (c *Console) retry(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	g := failureKey{Code: r.PostFormValue("code"), Step: r.PostFormValue("step"), Target: r.PostFormValue("target")}
	n, err := c.backend.retry(r.Context(), sessionOf(r).actor, requestID(r), id, g)
	if err != nil {
		c.answerChangeError(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"deletions/"+url.PathEscape(id)+"?retried="+strconv.Itoa(n), http.StatusSeeOther)
}

// answerChangeError says why a change was refused, or answers 500.
func (c *Console) answerChangeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case isNotFound(err):
		c.fail(w, r, http.StatusNotFound, "There is no deletion "+r.PathValue("id")+".")
	case isInvalid(err):
		c.fail(w, r, http.StatusConflict, "Not done: "+err.Error())
	default:
		c.internal(w, r, err)
	}
}
