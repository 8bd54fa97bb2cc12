package console

import "net/http"

// registerAudit adds the Audit page's routes (page wraps a handler in the console's headers and
// session).
func (c *Console) registerAudit(mux *http.ServeMux, page func(http.HandlerFunc) http.Handler) {
	mux.Handle("GET "+Prefix+"audit", page(func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusOK, "audit", nil)
	}))
}
