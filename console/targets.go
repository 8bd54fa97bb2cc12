package console

import "net/http"

// registerTargets adds the Targets page's routes (page wraps a handler in the console's headers and
// session).
func (c *Console) registerTargets(mux *http.ServeMux, page func(http.HandlerFunc) http.Handler) {
	mux.Handle("GET "+Prefix+"targets", page(func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusOK, "targets", nil)
	}))
}
