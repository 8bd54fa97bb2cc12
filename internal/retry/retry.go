// Package retry is erasure's one retry policy: capped exponential backoff with full jitter, for
// every loop that calls something again after it failed (the sagas' steps, the external targets,
// the webhook intake, a store coming back), and proportional jitter for the waits of a configured
// schedule (the webhook deliveries). See docs/adr/0004-one-retry-policy.md.
//
// Jitter is the point: workers that failed against the same recovering target at the same moment
// would, with plain doubling, call it again at the same moments too, and keep it down.
package retry

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"time"
)

// Policy bounds a retry loop. The zero value retries forever (until ctx ends), 100ms doubling to
// 5s.
type Policy struct {
	// Initial is the cap of the first wait (default 100ms).
	Initial time.Duration
	// Max is the largest cap of any wait (default 5s, and never below Initial).
	Max time.Duration
	// Multiplier grows the cap after each failure (default 2; 1 keeps it at Initial).
	Multiplier float64
	// Attempts is how many calls the loop makes in all, the first included; 0 is no limit.
	Attempts int
	// MaxElapsed stops the loop after a failure once this much time has passed since its start
	// (0: no limit); no wait goes past it. It does not cut a call short: ctx does.
	MaxElapsed time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.Initial <= 0 {
		p.Initial = 100 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 5 * time.Second
	}
	p.Max = max(p.Max, p.Initial)
	if p.Multiplier < 1 {
		p.Multiplier = 2
	}
	return p
}

// Cap is the longest wait after the n-th failure (n from 1): min(Max, Initial·Multiplier^(n-1)).
func (p Policy) Cap(n int) time.Duration {
	p = p.withDefaults()
	// In floating point, so that a long outage (n in the hundreds) saturates at Max instead of
	// overflowing an int64 of nanoseconds.
	c := float64(p.Initial) * math.Pow(p.Multiplier, float64(max(n, 1)-1))
	if c >= float64(p.Max) {
		return p.Max
	}
	return time.Duration(c)
}

// Wait is the wait after the n-th failure: drawn uniformly from [0, Cap(n)] ("full jitter"). Of
// the usual jitters it spreads a crowd of callers the most, so a target coming back sees their
// calls arrive evenly instead of in waves; the price is that a wait may be short.
func (p Policy) Wait(n int) time.Duration {
	return time.Duration(rand.Int64N(int64(p.Cap(n)) + 1))
}

// Around is d moved by up to fraction·d either way, uniformly: the jitter of a configured wait
// (an operator who wrote "5m" expects about five minutes, not anything up to five). fraction is
// clamped to [0, 1].
func Around(d time.Duration, fraction float64) time.Duration {
	if d <= 0 {
		return d
	}
	fraction = min(max(fraction, 0), 1)
	return d + time.Duration((rand.Float64()*2-1)*fraction*float64(d))
}

// permanent marks an error that retrying cannot change.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot change: Do returns it (unmarked) at once.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// Option adjusts one Do loop.
type Option func(*loop)

type loop struct {
	uncounted func(error) bool
	onRetry   func(attempt int, err error, wait time.Duration)
}

// Uncounted makes the failures for which counts reports true not spend Attempts: the loop waits
// them out however long it takes (a store that is down is not a reason to give up on a person).
// They still grow the wait, and MaxElapsed and ctx still bound them.
func Uncounted(counts func(error) bool) Option {
	return func(l *loop) { l.uncounted = counts }
}

// OnRetry calls fn before each wait with the number of the call that failed (from 1), its error
// and the wait: to log, or to show a message broker that the worker is still at it.
func OnRetry(fn func(attempt int, err error, wait time.Duration)) Option {
	return func(l *loop) { l.onRetry = fn }
}

// Do calls op until it returns nil or a Permanent error, or p's budget (Attempts, MaxElapsed) is
// spent, waiting p.Wait between calls. It returns op's last error (a Permanent one unmarked),
// joined with ctx's error when ctx ended the loop while it waited.
func Do(ctx context.Context, p Policy, op func(context.Context) error, opts ...Option) error {
	var l loop
	for _, o := range opts {
		o(&l)
	}
	start := time.Now()
	counted := 0
	for call := 1; ; call++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if pe := (permanent{}); errors.As(err, &pe) {
			return pe.err
		}
		if l.uncounted == nil || !l.uncounted(err) {
			counted++
		}
		if p.Attempts > 0 && counted >= p.Attempts ||
			p.MaxElapsed > 0 && time.Since(start) >= p.MaxElapsed {
			return err
		}
		if ctx.Err() != nil {
			// Checked before drawing a wait, which may be zero: a select between a fired timer
			// and a done ctx would pick either, and call op again after ctx ended.
			return errors.Join(err, ctx.Err())
		}
		wait := p.Wait(call)
		if p.MaxElapsed > 0 {
			// The last call comes at the deadline, not a wait past it.
			wait = min(wait, p.MaxElapsed-time.Since(start))
		}
		if l.onRetry != nil {
			l.onRetry(call, err, wait)
		}
		if sleep(ctx, wait) != nil {
			return errors.Join(err, ctx.Err())
		}
	}
}

// sleep waits d, or until ctx ends; it returns ctx's error if ctx ended by the end of the wait
// (a zero wait and a done ctx are both ready at once, and select would pick either).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return ctx.Err()
}
