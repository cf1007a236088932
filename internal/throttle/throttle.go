package throttle

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults of the zero Policy fields.
const (
	// DefaultFirst is the ceiling of the first wait. With ECR's bucket (20 calls a second,
	// a burst of 200), 300 nodes released at once make 1.43 calls each on average with a
	// first ceiling of 4 s, 1.60 with 2 s and 1.83 with 1 s (the SDK's throttle base), all
	// served within 11 s (see docs/benchmarks.md, "Throttling at cluster scale").
	DefaultFirst = 4 * time.Second
	// DefaultMax caps the ceiling: later waits are drawn from [0, 20 s).
	DefaultMax = 20 * time.Second
	// DefaultReserve is the least time kept for an attempt after a wait.
	DefaultReserve = time.Second
	// DefaultMaxReserve is the most: see Policy.MaxReserve.
	DefaultMaxReserve = 5 * time.Second
)

// ErrThrottled is wrapped by the error of a call still throttled when the deadline could not
// hold another attempt.
var ErrThrottled = errors.New("throttled")

// Policy says how long to wait after a throttled answer. The zero value is the defaults.
type Policy struct {
	// First is the ceiling of the wait after the first throttled answer; it doubles with each
	// throttled answer after that, up to Max. 0 means DefaultFirst.
	First time.Duration
	// Max caps the ceiling. 0 means DefaultMax (or First, if larger).
	Max time.Duration
	// Reserve is the least time kept for one more attempt: the shortest attempt so far if
	// that is longer, up to MaxReserve. 0 means DefaultReserve.
	Reserve time.Duration
	// MaxReserve caps the time kept for one more attempt. An attempt that took long was slow
	// on its way (a connection, a queue in front of the server), not in the server's refusal,
	// which is immediate: without a cap, one slow first attempt would give up a deadline that
	// still holds many. 0 means DefaultMaxReserve (or Reserve, if larger).
	MaxReserve time.Duration
	// Rand returns a number in [0, 1). nil means math/rand/v2's Float64.
	Rand func() float64
	// Now is the clock. nil means time.Now.
	Now func() time.Time
	// Sleep waits for d or until ctx is done, and says which. nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (p Policy) withDefaults() Policy {
	if p.First <= 0 {
		p.First = DefaultFirst
	}
	if p.Max <= 0 {
		p.Max = max(DefaultMax, p.First)
	}
	if p.Reserve <= 0 {
		p.Reserve = DefaultReserve
	}
	if p.MaxReserve <= 0 {
		p.MaxReserve = max(DefaultMaxReserve, p.Reserve)
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Sleep == nil {
		p.Sleep = sleep
	}
	return p
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ceiling is the ceiling of the wait after the n-th throttled answer (n from 0).
func (p Policy) Ceiling(n int) time.Duration {
	p = p.withDefaults()
	c := p.First
	for i := 0; i < n && c < p.Max; i++ {
		c *= 2
	}
	return min(c, p.Max)
}

// Do calls attempt until it succeeds, fails with an error that isThrottle does not take for
// throttling, or is throttled when the remaining deadline cannot hold another wait and
// attempt; it then returns an error wrapping ErrThrottled and the last error. Throttled
// answers are waited out as the package comment describes. Without a deadline on ctx, Do
// retries throttled answers until ctx is done.
func Do(ctx context.Context, p Policy, isThrottle func(error) bool, attempt func(context.Context) error) error {
	p = p.withDefaults()
	start := p.Now()
	shortest := time.Duration(-1)
	for n := 0; ; n++ {
		t0 := p.Now()
		err := attempt(ctx)
		if d := p.Now().Sub(t0); shortest < 0 || d < shortest {
			shortest = d
		}
		if err == nil || !isThrottle(err) {
			return err
		}
		wait := time.Duration(p.Rand() * float64(p.Ceiling(n)))
		if deadline, ok := ctx.Deadline(); ok {
			room := deadline.Sub(p.Now()) - max(min(shortest, p.MaxReserve), p.Reserve)
			if room <= 0 {
				return &Error{Attempts: n + 1, For: p.Now().Sub(start), Left: max(deadline.Sub(p.Now()), 0), Err: err}
			}
			if wait > room {
				wait = time.Duration(p.Rand() * float64(room))
			}
		}
		if cerr := p.Sleep(ctx, wait); cerr != nil {
			return &Error{Attempts: n + 1, For: p.Now().Sub(start), Err: err, Ended: cerr}
		}
	}
}

// Error is a call given up while throttled. It matches ErrThrottled, the last throttled
// answer and, when the context ended a wait, the context's error (errors.Is, errors.As).
type Error struct {
	Attempts int           // attempts made, all throttled
	For      time.Duration // from the first attempt to giving up
	Left     time.Duration // what was left of the deadline when Do gave up
	Err      error         // the last throttled answer
	Ended    error         // the context's error when it ended a wait; else nil
}

func (e *Error) Error() string {
	if e.Ended != nil {
		return fmt.Sprintf("throttled: %s over %s, then %v while waiting for the next: %v",
			attempts(e.Attempts), e.For.Round(time.Millisecond), e.Ended, e.Err)
	}
	return fmt.Sprintf("throttled: %s over %s, and the %s left of the deadline cannot hold another: %v",
		attempts(e.Attempts), e.For.Round(time.Millisecond), e.Left.Round(time.Millisecond), e.Err)
}

func (e *Error) Unwrap() []error {
	if e.Ended != nil {
		return []error{ErrThrottled, e.Err, e.Ended}
	}
	return []error{ErrThrottled, e.Err}
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}
