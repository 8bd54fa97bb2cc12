package native

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/config"
)

// errTooManyStreams refuses a live-progress stream over a client's or the server's cap: each
// open stream holds a JetStream consumer and a connection for as long as the client wants.
var errTooManyStreams = errors.New("too many event streams open")

// streamRetryAfter is the Retry-After of a refused stream, in seconds: a slot frees when
// another stream's client leaves or its deletion completes.
const streamRetryAfter = "5"

// streamSlots counts the open live-progress streams, per client and in all.
type streamSlots struct {
	perClient, total int

	mu       sync.Mutex
	open     int
	byClient map[string]int
}

func newStreamSlots(perClient, total int) *streamSlots {
	return &streamSlots{perClient: perClient, total: total, byClient: map[string]int{}}
}

// SetStreamLimits sets how many live-progress streams (GET /v1/deletions/{id}/events) one
// client (httpx.ClientKey: its API key, else its address, IPv6 by /64; anonymous clients on
// loopback have no per-client cap) and all clients together may hold open; the next is answered
// 429 TOO_MANY_STREAMS with Retry-After. Call it before serving; n <= 0 keeps the default.
func (api *API) SetStreamLimits(perClient, total int) *API {
	if perClient <= 0 {
		perClient = config.DefaultMaxStreamsPerClient
	}
	if total <= 0 {
		total = config.DefaultMaxStreams
	}
	api.streams = newStreamSlots(perClient, total)
	return api
}

// acquire takes a slot for r's client, or says why not; release gives it back.
func (s *streamSlots) acquire(r *http.Request) (release func(), err error) {
	// On loopback one address stands for every client of the machine (a CLI, browser tabs): only
	// the overall cap bounds them, counted under the empty name.
	client, limited := httpx.ClientKey(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case limited && s.byClient[client] >= s.perClient:
		return nil, fmt.Errorf("%w: at most %d per client at once; close one, or retry later", errTooManyStreams, s.perClient)
	case s.open >= s.total:
		return nil, fmt.Errorf("%w: the server holds at most %d at once; retry later", errTooManyStreams, s.total)
	}
	s.open++
	s.byClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.open--
			if s.byClient[client]--; s.byClient[client] <= 0 {
				delete(s.byClient, client) // the map holds only clients with a stream open
			}
		})
	}, nil
}
