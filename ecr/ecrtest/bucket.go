package ecrtest

import (
	"context"
	"time"
)

// bucket is ECR's rate limit of GetAuthorizationToken: a token bucket per account and region
// (modelled as one for the whole fake, ECR and ECR Public alike), refilled at rate tokens a
// second up to burst. A call that finds it empty is answered 400 ThrottlingException.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// take takes a token at now; false when the bucket is empty.
func (b *bucket) take(now time.Time) bool {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.burst, b.tokens+el.Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// gate holds the first n token calls until the n-th arrives, then releases them together.
type gate struct {
	n, arrived int
	open       chan struct{}
	released   time.Time
}

// SetBucket turns on ECR's rate limit of GetAuthorizationToken (ECR and ECR Public calls share
// it): a token bucket refilled at rate calls a second up to burst, full now. A call that finds
// it empty is answered as ECR does, HTTP 400 with {"__type":"ThrottlingException",…}, and
// recorded with the fault Throttle. Injected faults are answered first and take no token.
// burst <= 0 turns the limit off. ECR's documented quota is 20 calls a second with a burst of
// 200.
func (s *Server) SetBucket(rate float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if burst <= 0 {
		s.bucket = nil
		return
	}
	s.bucket = &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: s.now()}
}

// SetGate holds the next n token calls (GetAuthorizationToken of ECR or ECR Public) as they
// arrive, and releases them together when the n-th arrives: n clients asking at the same
// instant, however long their processes took to start. The bucket, if any, is full at the
// release. A held call whose client goes away is dropped and still counts as arrived. n <= 0
// removes the gate and releases the calls it holds.
func (s *Server) SetGate(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil && s.gate.released.IsZero() {
		close(s.gate.open)
	}
	s.gate = nil
	if n > 0 {
		s.gate = &gate{n: n, open: make(chan struct{})}
	}
}

// Gate returns how many calls arrived at the gate, and when it released them: the zero time
// before that. Without a gate: 0 and the zero time.
func (s *Server) Gate() (arrived int, released time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate == nil {
		return 0, time.Time{}
	}
	return s.gate.arrived, s.gate.released
}

// throughGate holds a token call at the gate; false when the client went away first.
func (s *Server) throughGate(ctx context.Context) bool {
	s.mu.Lock()
	g := s.gate
	if g == nil || g.arrived >= g.n {
		s.mu.Unlock()
		return true
	}
	g.arrived++
	if g.arrived == g.n {
		g.released = s.now()
		if s.bucket != nil {
			s.bucket.tokens, s.bucket.last = s.bucket.burst, g.released
		}
		close(g.open)
	}
	s.mu.Unlock()
	select {
	case <-g.open:
		return true
	case <-ctx.Done():
		return false
	}
}
