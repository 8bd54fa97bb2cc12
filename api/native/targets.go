package native

import (
	"net/http"
	"time"

	"github.com/erasure-dev/erasure/app"
)

type targetErrorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// targetJSON is a configured target (no secrets) and its live figures.
type targetJSON struct {
	app.TargetInfo
	Pending     int              `json:"pending"`
	Confirmed   int              `json:"confirmed"`
	Failed      int              `json:"failed"`
	LastError   *targetErrorJSON `json:"last_error"`
	LastErrorAt *time.Time       `json:"last_error_at"`
}

// listTargets answers GET /v1/targets: the external targets every deletion also deletes from,
// in configuration order, each with the persons waiting on it, confirmed and refused by it, and
// its latest refusal among those it refuses now.
func (api *API) listTargets(r *http.Request) (reply, error) {
	ts, err := api.app.TargetStatuses(r.Context())
	if err != nil {
		return reply{}, err
	}
	out := struct {
		Targets []targetJSON `json:"targets"`
	}{Targets: make([]targetJSON, len(ts))}
	for i, t := range ts {
		out.Targets[i] = targetJSON{TargetInfo: t.TargetInfo, Pending: t.Pending, Confirmed: t.Confirmed, Failed: t.Failed,
			LastErrorAt: t.LastErrorAt}
		if e := t.LastError; e != nil {
			out.Targets[i].LastError = &targetErrorJSON{Code: e.Code, Message: e.Message}
		}
	}
	return ok(out), nil
}
