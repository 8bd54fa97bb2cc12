package webhooks

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/events"
)

// runScheduler starts a worker for every endpoint with due deliveries, as they come due, until
// ctx ends. Each endpoint has at most one worker in this process, which sends up to
// Config.Concurrency of its deliveries at a time: an endpoint that is slow or down holds only
// its own worker, never another endpoint's deliveries, never the intake, never a saga.
func (s *Service) runScheduler(ctx context.Context) error {
	if s.deps.Exclusive {
		// The embedded mode holds the data directory's lock: claims left by a previous process
		// are stale, and their deliveries (outcome unknown) are due at once.
		if err := s.store.releaseAll(ctx, time.Now()); err != nil {
			return err
		}
	}
	var (
		mu      sync.Mutex
		running = map[string]bool{}
		wg      sync.WaitGroup
	)
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-s.wake:
		}
		ids, err := s.store.dueEndpoints(ctx, time.Now(), 1000)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.logger.Warn("webhook scheduler", "err", err)
		}
		for _, id := range ids {
			mu.Lock()
			busy := running[id]
			running[id] = true
			mu.Unlock()
			if busy {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sent := s.work(ctx, id)
				mu.Lock()
				delete(running, id)
				mu.Unlock()
				if sent {
					s.wakeScheduler() // deliveries may have come due while it worked
				}
			}()
		}
		wait := s.cfg.Poll
		if next, ok, err := s.store.nextDue(ctx); err == nil && ok {
			wait = min(wait, max(time.Until(next), 10*time.Millisecond))
		}
		timer.Reset(wait)
	}
}

func (s *Service) wakeScheduler() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// claimFor is how long a claimed delivery is this process's: an attempt's timeout and a margin.
// A process that dies mid-attempt leaves the delivery due again when the claim runs out.
func (s *Service) claimFor() time.Duration { return s.cfg.Timeout + 5*time.Second }

// work sends an endpoint's due deliveries until none is left, and reports whether it sent any.
func (s *Service) work(ctx context.Context, endpointID string) (sent bool) {
	for ctx.Err() == nil {
		e, err := s.store.endpoint(ctx, endpointID)
		if err != nil || e.State != StateActive {
			return sent
		}
		now := time.Now()
		batch, err := s.store.claim(ctx, endpointID, events.NewID(), now, now.Add(s.claimFor()), s.cfg.Concurrency)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("claim webhook deliveries", "endpoint", endpointID, "err", err)
			}
			return sent
		}
		if len(batch) == 0 {
			return sent
		}
		sent = true
		var wg sync.WaitGroup
		var gone sync.Once
		for _, d := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := s.sender.send(ctx, e, d)
				if ctx.Err() != nil {
					// Shutting down: the attempt's outcome is unknown; hand the delivery back so
					// the next process sends it again at once, with the same webhook-id.
					rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
					defer cancel()
					_ = s.store.release(rctx, d, time.Now())
					return
				}
				o := s.outcomeOf(d, a)
				if err := s.store.record(ctx, d, o); err != nil && ctx.Err() == nil {
					s.logger.Warn("record webhook delivery", "endpoint", endpointID, "delivery", d.ID, "err", err)
				}
				s.observe(o)
				if a.gone() {
					// 410 Gone: the receiver asks never to be called again. The endpoint is
					// disabled and what it still had queued is dead-lettered.
					gone.Do(func() {
						reason := fmt.Sprintf("the receiver answered 410 Gone at %s", time.Now().UTC().Format(time.RFC3339))
						if err := s.store.disable(ctx, endpointID, reason, time.Now()); err != nil {
							s.logger.Warn("disable webhook", "endpoint", endpointID, "err", err)
						}
						s.logger.Warn("webhook endpoint disabled: 410 Gone", "endpoint", endpointID)
					})
				}
			}()
		}
		wg.Wait()
	}
	return sent
}

// outcomeOf decides what an attempt means for its delivery: delivered, due again after the
// schedule's next wait, or dead once the schedule is spent (or the receiver is gone).
func (s *Service) outcomeOf(d delivery, a attempt) outcome {
	now := time.Now()
	o := outcome{status: a.status, err: a.describe(), latency: a.latency, at: now, next: now}
	n := d.Attempts + 1
	switch {
	case a.ok():
		o.state, o.delivered = DeliveryDelivered, true
	case a.gone() || n > len(s.cfg.RetrySchedule):
		o.state = DeliveryDead
	default:
		o.state = DeliveryPending
		o.next = now.Add(retryDelay(s.cfg.RetrySchedule, n, a))
	}
	return o
}

func (s *Service) observe(o outcome) {
	if s.deps.Observer == nil {
		return
	}
	switch o.state {
	case DeliveryDelivered:
		s.deps.Observer.WebhookDelivery("delivered")
	case DeliveryDead:
		s.deps.Observer.WebhookDelivery("dead_lettered")
	default:
		s.deps.Observer.WebhookDelivery("failed")
	}
}
