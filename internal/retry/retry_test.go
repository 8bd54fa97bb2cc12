package retry

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy Policy
		caps   []time.Duration // Cap(1), Cap(2), ...
	}{
		{"defaults: 100ms doubling to 5s", Policy{},
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
				1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second}},
		{"targets: 1s doubling to 30s", Policy{Initial: time.Second, Max: 30 * time.Second},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second}},
		{"multiplier 3", Policy{Initial: 10 * time.Millisecond, Max: time.Second, Multiplier: 3},
			[]time.Duration{10 * time.Millisecond, 30 * time.Millisecond, 90 * time.Millisecond, 270 * time.Millisecond,
				810 * time.Millisecond, time.Second}},
		{"multiplier 1 is constant", Policy{Initial: 50 * time.Millisecond, Max: time.Second, Multiplier: 1},
			[]time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}},
		{"Max below Initial is Initial", Policy{Initial: time.Second, Max: time.Millisecond},
			[]time.Duration{time.Second, time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for i, want := range tt.caps {
				require.Equal(t, want, tt.policy.Cap(i+1), "Cap(%d)", i+1)
			}
		})
	}
	t.Run("a long outage saturates at Max instead of overflowing", func(t *testing.T) {
		t.Parallel()
		p := Policy{Initial: time.Second, Max: time.Hour}
		for _, n := range []int{64, 200, 5000} {
			require.Equal(t, time.Hour, p.Cap(n), "Cap(%d)", n)
			w := p.Wait(n)
			require.True(t, w >= 0 && w <= time.Hour, "Wait(%d) = %s", n, w)
		}
	})
}

// spread draws n values and reports their minimum, maximum, mean and how many differ.
func spread(n int, draw func() time.Duration) (lo, hi, mean time.Duration, distinct int) {
	ds := make([]time.Duration, n)
	var sum float64
	for i := range ds {
		ds[i] = draw()
		sum += float64(ds[i])
	}
	slices.Sort(ds)
	lo, hi = ds[0], ds[n-1] // before Compact, which clears the slice's tail
	return lo, hi, time.Duration(sum / float64(n)), len(slices.Compact(ds))
}

// TestWaitSpread checks full jitter over many draws: every wait in [0, cap], and the waits cover
// the range evenly (some near 0, some near the cap, the mean near its middle), so a crowd of
// workers does not come back at one moment. With 20,000 uniform draws each bound below fails
// with a probability far under 1e-9.
func TestWaitSpread(t *testing.T) {
	t.Parallel()
	p := Policy{Initial: time.Second, Max: 30 * time.Second}
	for _, n := range []int{1, 3, 6, 10} {
		capN := p.Cap(n)
		lo, hi, mean, distinct := spread(20_000, func() time.Duration { return p.Wait(n) })
		require.GreaterOrEqual(t, lo, time.Duration(0), "n=%d", n)
		require.LessOrEqual(t, hi, capN, "n=%d", n)
		require.Less(t, lo, capN/20, "n=%d: no wait near 0", n)
		require.Greater(t, hi, capN*19/20, "n=%d: no wait near the cap", n)
		require.InDelta(t, float64(capN)/2, float64(mean), float64(capN)/20, "n=%d: mean off the middle", n)
		require.Greater(t, distinct, 19_000, "n=%d: waits repeat", n)
	}
}

func TestAroundSpread(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		d        time.Duration
		fraction float64
		lo, hi   time.Duration // bounds every draw must respect
	}{
		{"a fifth either way", 5 * time.Minute, 0.2, 4 * time.Minute, 6 * time.Minute},
		{"fraction above 1 is 1", time.Second, 3, 0, 2 * time.Second},
		{"negative fraction is none", time.Second, -1, time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lo, hi, mean, distinct := spread(20_000, func() time.Duration { return Around(tt.d, tt.fraction) })
			require.GreaterOrEqual(t, lo, tt.lo)
			require.LessOrEqual(t, hi, tt.hi)
			width := tt.hi - tt.lo
			if width == 0 {
				require.Equal(t, 1, distinct)
				return
			}
			require.Less(t, lo, tt.lo+width/20, "no draw near the low end")
			require.Greater(t, hi, tt.hi-width/20, "no draw near the high end")
			require.InDelta(t, float64(tt.d), float64(mean), float64(width)/20, "mean off the configured wait")
		})
	}
	require.Equal(t, time.Duration(0), Around(0, 0.2))
}

var errDown = errors.New("store down")

func TestDo(t *testing.T) {
	t.Parallel()
	errRefused := errors.New("refused")
	errBad := errors.New("bad credentials")
	fast := Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond}
	tests := []struct {
		name      string
		policy    Policy
		opts      []Option
		results   []error // what op returns on each call; after the last, it keeps returning that
		wantErr   error   // nil: Do returns nil
		wantCalls int
	}{
		{"first call succeeds", fast, nil, []error{nil}, nil, 1},
		{"succeeds on the third call", withAttempts(fast, 5), nil, []error{errRefused, errRefused, nil}, nil, 3},
		{"attempts spent: the last error", withAttempts(fast, 4), nil, []error{errRefused}, errRefused, 4},
		{"one attempt: no retry", withAttempts(fast, 1), nil, []error{errRefused}, errRefused, 1},
		{"permanent stops at once, unmarked", withAttempts(fast, 5), nil,
			[]error{errRefused, Permanent(errBad)}, errBad, 2},
		{"uncounted failures do not spend attempts", withAttempts(fast, 2),
			[]Option{Uncounted(func(err error) bool { return errors.Is(err, errDown) })},
			[]error{errDown, errDown, errDown, errRefused, errDown, errRefused}, errRefused, 6},
		{"no limit: until it succeeds", fast, nil,
			[]error{errRefused, errRefused, errRefused, errRefused, errRefused, errRefused, nil}, nil, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			err := Do(context.Background(), tt.policy, func(context.Context) error {
				calls++
				return tt.results[min(calls, len(tt.results))-1]
			}, tt.opts...)
			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.Equal(t, tt.wantErr, err)
			}
			require.Equal(t, tt.wantCalls, calls)
		})
	}
}

func withAttempts(p Policy, n int) Policy { p.Attempts = n; return p }

func TestDoOnRetry(t *testing.T) {
	t.Parallel()
	p := Policy{Initial: time.Millisecond, Max: 4 * time.Millisecond, Attempts: 5}
	errRefused := errors.New("refused")
	type retried struct {
		attempt int
		err     error
	}
	var got []retried
	err := Do(context.Background(), p, func(context.Context) error { return errRefused },
		OnRetry(func(attempt int, err error, wait time.Duration) {
			require.True(t, wait >= 0 && wait <= p.Cap(attempt), "wait %s after call %d, cap %s", wait, attempt, p.Cap(attempt))
			got = append(got, retried{attempt, err})
		}))
	require.ErrorIs(t, err, errRefused)
	// Four waits between five calls; none after the last.
	require.Equal(t, []retried{{1, errRefused}, {2, errRefused}, {3, errRefused}, {4, errRefused}}, got)
}

func TestDoMaxElapsed(t *testing.T) {
	t.Parallel()
	// Waits of up to a second against a budget of 150ms: the loop must stop near the budget, and
	// no wait may run past it.
	p := Policy{Initial: time.Second, Max: time.Second, MaxElapsed: 150 * time.Millisecond}
	errRefused := errors.New("refused")
	start := time.Now()
	calls := 0
	err := Do(context.Background(), p, func(context.Context) error { calls++; return errRefused })
	elapsed := time.Since(start)
	require.ErrorIs(t, err, errRefused)
	require.GreaterOrEqual(t, calls, 1)
	require.Less(t, elapsed, 900*time.Millisecond, "a wait ran past MaxElapsed")
}

func TestDoContext(t *testing.T) {
	t.Parallel()
	errRefused := errors.New("refused")
	t.Run("cancelled while waiting: returns at once, both errors", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		p := Policy{Initial: time.Hour, Max: time.Hour, Multiplier: 1}
		calls := 0
		start := time.Now()
		err := Do(ctx, p, func(context.Context) error { calls++; return errRefused },
			// Cancel once the loop is about to wait (an hour, most likely).
			OnRetry(func(int, error, time.Duration) { cancel() }))
		require.Less(t, time.Since(start), 5*time.Second)
		require.ErrorIs(t, err, errRefused)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, 1, calls)
	})
	t.Run("cancelled during a call: no further call, even with a zero wait", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		// Multiplier 1 with a 1ns cap: waits are 0 or 1ns, so only the ctx check stops the loop.
		p := Policy{Initial: time.Nanosecond, Max: time.Nanosecond, Multiplier: 1}
		calls := 0
		err := Do(ctx, p, func(context.Context) error { calls++; cancel(); return errRefused })
		require.ErrorIs(t, err, errRefused)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, 1, calls)
	})
	t.Run("cancelled just before a zero wait: no further call", func(t *testing.T) {
		t.Parallel()
		for range 200 { // the timer and ctx race only sometimes: try often
			ctx, cancel := context.WithCancel(context.Background())
			p := Policy{Initial: time.Nanosecond, Max: time.Nanosecond, Multiplier: 1}
			calls := 0
			err := Do(ctx, p, func(context.Context) error { calls++; return errRefused },
				OnRetry(func(int, error, time.Duration) { cancel() }))
			require.ErrorIs(t, err, context.Canceled)
			require.Equal(t, 1, calls)
		}
	})
	t.Run("op sees the loop's ctx", func(t *testing.T) {
		t.Parallel()
		type key struct{}
		ctx := context.WithValue(context.Background(), key{}, "v")
		err := Do(ctx, Policy{Attempts: 1}, func(ctx context.Context) error {
			require.Equal(t, "v", ctx.Value(key{}))
			return nil
		})
		require.NoError(t, err)
	})
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	require.NoError(t, Permanent(nil))
	err := Permanent(errDown)
	require.ErrorIs(t, err, errDown, "a marked error still matches its cause")
	require.Equal(t, errDown.Error(), err.Error())
}
