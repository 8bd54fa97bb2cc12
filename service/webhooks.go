package service

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/erasure-dev/erasure/internal/sqldb"
	"github.com/erasure-dev/erasure/webhooks"
)

// openWebhooks makes the webhook dispatcher (run as the "webhooks" worker) and has the
// application layer manage subscriptions and check deletion callbacks with it.
func (s *Service) openWebhooks() error {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return err
	}
	stream := s.cfg.Stream
	if stream == "" {
		stream = "ERASURE" // eventlog.StoreConfig's default
	}
	s.Webhooks, err = webhooks.New(webhooks.Config{
		RetrySchedule: s.cfg.WebhookRetrySchedule,
		AllowPrivate:  s.cfg.WebhookAllowPrivate,
		Timeout:       s.cfg.WebhookTimeout,
	}, webhooks.Deps{
		DB: s.DBs.Stores, Log: s.Log, JS: js, Stream: stream,
		Items:    webhookItems{s},
		Logger:   s.logger,
		Observer: s.Metrics,
		// Under the data directory's lock with embedded NATS and SQLite, no other process sends.
		Exclusive: s.embedded != nil && s.DBs.Dialect == sqldb.SQLite,
	})
	if err != nil {
		return err
	}
	s.Metrics.SetWebhookBacklog(s.Webhooks.Backlog)
	s.App.SetWebhooks(s.Webhooks)
	return nil
}

// webhookItems answers the dispatcher's questions about a deletion's items from the read model.
type webhookItems struct{ s *Service }

func (w webhookItems) Items(ctx context.Context, deletionID string, seq uint64, from, to int64) ([]webhooks.Item, error) {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.s.Projection.WaitFor(wctx, seq); err != nil {
		return nil, err
	}
	const page = 1000
	var out []webhooks.Item
	for after := from - 1; ; {
		items, err := w.s.App.DeletionItems(ctx, deletionID, "", after, page)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if to >= 0 && it.Position > to {
				return out, nil
			}
			out = append(out, webhooks.Item{Position: it.Position, PersonID: it.PersonID, State: it.State,
				Code: it.ErrorCode, Step: it.ErrorStep})
		}
		if len(items) < page {
			return out, nil
		}
		after = items[len(items)-1].Position
	}
}
