package console

import "net/http"

// registerWebhooks adds the Webhooks page's routes (page wraps a handler in the console's headers and
// session).
func (c *Console) registerWebhooks(mux *http.ServeMux, page func(http.HandlerFunc) http.Handler) {
	mux.Handle("GET "+Prefix+"webhooks", page(func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusOK, "webhooks", nil)
	}))
}
