package console

import "net/http"

// registerReceipts adds the Receipts page's routes (page wraps a handler in the console's headers and
// session).
func (c *Console) registerReceipts(mux *http.ServeMux, page func(http.HandlerFunc) http.Handler) {
	mux.Handle("GET "+Prefix+"receipts", page(func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusOK, "receipts", nil)
	}))
}
