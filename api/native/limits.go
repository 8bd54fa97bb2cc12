package native

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
)

// DefaultMaxBulk is how many bulk deletion requests may stream at once by default.
const DefaultMaxBulk = 4

// bulkBody is the size from which a JSON deletion request counts as bulk; a small one (the
// common case, a few IDs) never waits for a bulk slot.
const bulkBody = 1 << 20

var errTooManyBulk = errors.New("too many bulk deletion requests in flight")

// SetMaxBulk sets how many bulk deletion requests (a text/plain or NDJSON stream, or a JSON body
// over 1 MiB or of unknown length) are served at once; the next is answered 429
// TOO_MANY_BULK_REQUESTS with Retry-After. Call it before serving; n <= 0 keeps the default.
func (api *API) SetMaxBulk(n int) *API {
	if n > 0 {
		api.bulk = make(chan struct{}, n)
	}
	return api
}

// bulkLimited holds one bulk slot while h serves a bulk request.
func (api *API) bulkLimited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !isBulk(r) {
			h(w, r)
			return
		}
		select {
		case api.bulk <- struct{}{}:
			defer func() { <-api.bulk }()
			h(w, r)
		default:
			w.Header().Set("Retry-After", "5")
			writeError(w, fmt.Errorf("%w: at most %d at once; retry later, or send the IDs in one request", errTooManyBulk, cap(api.bulk)))
		}
	}
}

func isBulk(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "text/plain", "application/x-ndjson":
		return true
	}
	return r.ContentLength > bulkBody || r.ContentLength < 0
}
