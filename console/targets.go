package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// registerTargets adds the Targets page's routes (page wraps a handler in the console's headers and
// session).
func (c *Console) registerTargets(mux *http.ServeMux, page func(http.HandlerFunc) http.Handler) {
	mux.Handle("GET "+Prefix+"targets", page(c.targetsPage))
	mux.Handle("GET "+Prefix+"targets/figures", page(c.targetFigures))
}

// targetRow is one external target's line: what it is and its live figures. It holds the
// endpoint's host only: a configured URL may carry a token in its path or query, and a
// Sophon or HTTP target's credentials never leave the configuration.
type targetRow struct {
	Name, Kind, Host           string
	BatchSize                  int
	Rate                       float64
	Pending, Confirmed, Failed int
	ErrorCode, ErrorMessage    string
	ErrorAt                    *time.Time
}

// targetFigures is the table htmx refreshes in place.
type targetFigures struct {
	Targets []targetRow
}

func (c *Console) targetsPage(w http.ResponseWriter, r *http.Request) {
	figures, ok := c.loadTargetFigures(w, r)
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, "targets", figures)
}

// targetFigures is the fragment the Targets page polls every 2 s (without JavaScript the page
// is complete as served, and a reload refreshes it).
func (c *Console) targetFigures(w http.ResponseWriter, r *http.Request) {
	figures, ok := c.loadTargetFigures(w, r)
	if !ok {
		return
	}
	c.fragment(w, r, "targets", "target-figures", figures)
}

func (c *Console) loadTargetFigures(w http.ResponseWriter, r *http.Request) (targetFigures, bool) {
	ts, err := c.backend.targetStatuses(r.Context())
	if err != nil {
		c.internal(w, r, err)
		return targetFigures{}, false
	}
	out := targetFigures{Targets: make([]targetRow, len(ts))}
	for i, t := range ts {
		row := targetRow{Name: t.Name, Kind: t.Kind, Host: endpointHost(t.Endpoint), BatchSize: t.BatchSize, Rate: t.Rate,
			Pending: t.Pending, Confirmed: t.Confirmed, Failed: t.Failed, ErrorAt: t.LastErrorAt}
		if e := t.LastError; e != nil {
			row.ErrorCode, row.ErrorMessage = e.Code, e.Message
		}
		out.Targets[i] = row
	}
	return out, true
}

// endpointHost is the host (and port) of a target's URL, without user, path or query; "" when
// the URL names none.
func endpointHost(endpoint string) string {
	u, err := url.Parse(strings.ReplaceAll(endpoint, "{person_id}", "x"))
	if err != nil {
		return ""
	}
	return u.Host
}
