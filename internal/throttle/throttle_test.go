package throttle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/internal/throttle"
)

var (
	errSlowDown = errors.New("slow down")
	errBroken   = errors.New("broken")
)

func isThrottle(err error) bool { return errors.Is(err, errSlowDown) }

// clock is a fake clock that Sleep advances; attempts take attempts[i], then attempt each.
type clock struct {
	now      time.Time
	attempt  time.Duration
	attempts []time.Duration
	waits    []time.Duration
}

func (c *clock) policy(p throttle.Policy) throttle.Policy {
	p.Now = func() time.Time { return c.now }
	p.Sleep = func(ctx context.Context, d time.Duration) error {
		c.waits = append(c.waits, d)
		c.now = c.now.Add(d)
		return ctx.Err()
	}
	p.Rand = func() float64 { return 0.5 }
	return p
}

// answers returns an attempt function answering errs in turn, then nil.
func (c *clock) answers(errs ...error) (func(context.Context) error, *int) {
	n := 0
	return func(context.Context) error {
		d := c.attempt
		if n < len(c.attempts) {
			d = c.attempts[n]
		}
		c.now = c.now.Add(d)
		n++
		if n <= len(errs) {
			return errs[n-1]
		}
		return nil
	}, &n
}

func TestDo(t *testing.T) {
	for _, tc := range []struct {
		name      string
		policy    throttle.Policy
		deadline  time.Duration // from the start; 0 for none
		attempt   time.Duration
		attempts  []time.Duration // each attempt's duration, then attempt's
		answers   []error
		wantErr   []error // matched with errors.Is; nil for success
		wantCalls int
		wantWaits []time.Duration
	}{
		{
			name:      "throttled twice then served, waits half the growing ceiling",
			answers:   []error{errSlowDown, errSlowDown},
			wantCalls: 3,
			wantWaits: []time.Duration{2 * time.Second, 4 * time.Second},
		},
		{
			name:      "ceiling capped at Max",
			policy:    throttle.Policy{First: time.Second, Max: 3 * time.Second},
			answers:   []error{errSlowDown, errSlowDown, errSlowDown, errSlowDown},
			wantCalls: 5,
			wantWaits: []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 1500 * time.Millisecond},
		},
		{
			name:      "an error that is not throttling is returned at once",
			answers:   []error{errBroken},
			wantErr:   []error{errBroken},
			wantCalls: 1,
		},
		{
			name:      "a throttle then another error: that error",
			answers:   []error{errSlowDown, errBroken},
			wantErr:   []error{errBroken},
			wantCalls: 2,
			wantWaits: []time.Duration{2 * time.Second},
		},
		{
			name:      "deadline cannot hold another attempt: stops at once",
			deadline:  1500 * time.Millisecond,
			attempt:   600 * time.Millisecond,
			answers:   []error{errSlowDown},
			wantErr:   []error{throttle.ErrThrottled, errSlowDown},
			wantCalls: 1,
		},
		{
			name:      "the wait is shortened to leave room for an attempt",
			deadline:  3 * time.Second,
			attempt:   100 * time.Millisecond,
			answers:   []error{errSlowDown, errSlowDown},
			wantCalls: 3,
			// room after the first attempt: 3 s - 0.1 s - 1 s reserve = 1.9 s, half of it;
			// then 3 - 0.1 - 0.95 - 0.1 - 1 = 0.85 s, half of it.
			wantWaits: []time.Duration{950 * time.Millisecond, 425 * time.Millisecond},
		},
		{
			name:      "a slow first attempt does not give up a deadline that holds more",
			deadline:  30 * time.Second,
			attempts:  []time.Duration{20 * time.Second, 100 * time.Millisecond},
			answers:   []error{errSlowDown},
			wantCalls: 2,
			// room: 30 - 20 - 5 (MaxReserve) = 5 s; the wait of 2 s (half the first ceiling) fits.
			wantWaits: []time.Duration{2 * time.Second},
		},
		{
			name:      "the shortest attempt so far is kept, when above the reserve",
			deadline:  5 * time.Second,
			attempt:   2 * time.Second,
			answers:   []error{errSlowDown, errSlowDown},
			wantErr:   []error{throttle.ErrThrottled, errSlowDown},
			wantCalls: 2,
			// room: 5 - 2 - 2 = 1 s, half; then 5 - 2 - 0.5 - 2 - 2 < 0: stop.
			wantWaits: []time.Duration{500 * time.Millisecond},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{now: time.Now(), attempt: tc.attempt, attempts: tc.attempts}
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				// The fake clock starts at the real one and only moves forward in
				// Sleep, faster than the real one: the real deadline never passes.
				ctx, cancel = context.WithDeadline(ctx, c.now.Add(tc.deadline))
				defer cancel()
			}
			attempt, calls := c.answers(tc.answers...)
			err := throttle.Do(ctx, c.policy(tc.policy), isThrottle, attempt)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Do() = %v, want success", err)
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Do() = %v, want an error matching %v", err, want)
				}
			}
			if *calls != tc.wantCalls {
				t.Errorf("Do() made %d attempts, want %d", *calls, tc.wantCalls)
			}
			if diff := cmp.Diff(tc.wantWaits, c.waits); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if ctx.Err() != nil {
				t.Errorf("Do() returned after the deadline: %v", ctx.Err())
			}
		})
	}
}

func TestDoContextEndsWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := throttle.Policy{Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}}
	err := throttle.Do(ctx, p, isThrottle, func(context.Context) error { return errSlowDown })
	for _, want := range []error{throttle.ErrThrottled, errSlowDown, context.Canceled} {
		if !errors.Is(err, want) {
			t.Errorf("Do() = %v, want an error matching %v", err, want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	c := &clock{now: time.Now(), attempt: 700 * time.Millisecond}
	ctx, cancel := context.WithDeadline(context.Background(), c.now.Add(1500*time.Millisecond))
	defer cancel()
	attempt, _ := c.answers(errSlowDown)
	err := throttle.Do(ctx, c.policy(throttle.Policy{}), isThrottle, attempt)
	want := "throttled: 1 attempt over 700ms, and the 800ms left of the deadline cannot hold another: slow down"
	if err == nil || err.Error() != want {
		t.Errorf("Do() = %v, want %q", err, want)
	}
}

func TestCeiling(t *testing.T) {
	var p throttle.Policy
	var got []time.Duration
	for n := range 5 {
		got = append(got, p.Ceiling(n))
	}
	want := []time.Duration{4 * time.Second, 8 * time.Second, 16 * time.Second, 20 * time.Second, 20 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Ceiling(0…4) (-want +got):\n%s", diff)
	}
}
