package service

import (
	"context"
	"net/http"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/console"
)

// registerConsole mounts the operator console at /ui/ on mux: its login takes the API keys
// (/v1's), and its header shows the figures /metrics reports (read-model lag, backlog).
func (s *Service) registerConsole(mux *http.ServeMux, keys *httpx.Keys) {
	lag := projectionLag(s.Log, s.Projection)
	backlog := deletionBacklog(s.DBs.ReadModel)
	console.New(s.App, console.Config{
		Keys:    keys,
		Session: s.cfg.ConsoleSession,
		Lag:     lag,
		Backlog: func(ctx context.Context) (int, int, error) {
			b, err := backlog(ctx)
			return b.Running, b.Pending, err
		},
		Logger: s.logger,
	}).Register(mux)
}
