package ecr

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/internal/throttle"
	"github.com/pullkeys/pullkeys/providers"
)

// TestThrottle: throttled calls are retried past MaxAttempts for as long as the deadline can
// hold another attempt, then fail at once saying so; other errors keep the SDK's short retry.
// The real SDK client against the fake, which answers ECR's and STS's throttling on the wire.
func TestThrottle(t *testing.T) {
	type fault struct {
		op ecrtest.Op
		f  ecrtest.Fault
		n  int
	}
	ecrOp, stsOp := ecrtest.GetAuthorizationToken, ecrtest.AssumeRoleWithWebIdentity
	for _, tc := range []struct {
		name        string
		faults      []fault
		role        bool
		opts        Options
		timeout     time.Duration // of the request; 0 for 30 s, a hang detector
		wantErr     []error       // matched with errors.Is; nil for success
		wantInErr   []string
		wantCalls   map[ecrtest.Op]int
		wantAtLeast bool // wantCalls are lower bounds
	}{
		{
			name:      "throttled then served, past max attempts",
			faults:    []fault{{ecrOp, ecrtest.Throttle, 3}},
			opts:      Options{MaxAttempts: 1},
			wantCalls: map[ecrtest.Op]int{ecrOp: 4},
		},
		{
			name:      "deadline too short for another attempt: stops at once, saying so",
			faults:    []fault{{ecrOp, ecrtest.Throttle, -1}},
			opts:      Options{ThrottleBackoff: throttle.DefaultFirst},
			timeout:   900 * time.Millisecond, // under throttle.DefaultReserve after the first answer
			wantErr:   []error{throttle.ErrThrottled},
			wantInErr: []string{privateHost, "cannot hold another", "ThrottlingException"},
			wantCalls: map[ecrtest.Op]int{ecrOp: 1},
		},
		{
			name:        "throttled until the deadline cannot hold another attempt",
			faults:      []fault{{ecrOp, ecrtest.Throttle, -1}},
			opts:        Options{ThrottleBackoff: 5 * time.Millisecond, ThrottleMaxBackoff: 20 * time.Millisecond},
			timeout:     1500 * time.Millisecond,
			wantErr:     []error{throttle.ErrThrottled},
			wantInErr:   []string{privateHost, "cannot hold another", "ThrottlingException"},
			wantCalls:   map[ecrtest.Op]int{ecrOp: 2},
			wantAtLeast: true,
		},
		{
			name:      "a 500 keeps the short retry",
			faults:    []fault{{ecrOp, ecrtest.ServerError, -1}},
			opts:      Options{MaxAttempts: 3},
			wantInErr: []string{privateHost, "StatusCode: 500", "exceeded maximum number of attempts, 3"},
			wantCalls: map[ecrtest.Op]int{ecrOp: 3},
		},
		{
			name:      "500, throttled twice, served",
			faults:    []fault{{ecrOp, ecrtest.ServerError, 1}, {ecrOp, ecrtest.Throttle, 2}},
			opts:      Options{MaxAttempts: 2},
			wantCalls: map[ecrtest.Op]int{ecrOp: 4},
		},
		{
			name:      "throttled, then 500 until the short retry gives up",
			faults:    []fault{{ecrOp, ecrtest.Throttle, 1}, {ecrOp, ecrtest.ServerError, -1}},
			opts:      Options{MaxAttempts: 2},
			wantInErr: []string{"StatusCode: 500"},
			wantCalls: map[ecrtest.Op]int{ecrOp: 3},
		},
		{
			name:      "STS throttled then served",
			faults:    []fault{{stsOp, ecrtest.Throttle, 3}},
			role:      true,
			opts:      Options{MaxAttempts: 1},
			wantCalls: map[ecrtest.Op]int{stsOp: 4, ecrOp: 1},
		},
		{
			name:      "STS throttled with too short a deadline",
			faults:    []fault{{stsOp, ecrtest.Throttle, -1}},
			role:      true,
			opts:      Options{ThrottleBackoff: throttle.DefaultFirst},
			timeout:   900 * time.Millisecond,
			wantErr:   []error{throttle.ErrThrottled},
			wantInErr: []string{"assume role " + roleA, "cannot hold another", "Throttling"},
			wantCalls: map[ecrtest.Op]int{stsOp: 1, ecrOp: 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, realClock())
			p := e.provider(tc.opts)
			req := &providers.Request{Image: privateImg}
			if tc.role {
				req.ServiceAccountToken = saToken("ns", "sa", "u", 1)
				req.ServiceAccountAnnotations = map[string]string{AnnotationRoleARN: roleA}
			}
			for _, f := range tc.faults {
				e.srv.Inject(f.op, f.f, f.n)
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()

			resp, err := p.Provide(ctx, req)

			if ctx.Err() != nil {
				t.Errorf("Provide(%q) returned after its deadline (%v); want it to stop while it could still answer", req.Image, ctx.Err())
			}
			wantFail := tc.wantErr != nil || tc.wantInErr != nil
			switch {
			case !wantFail && err != nil:
				t.Fatalf("Provide(%q) error: %v", req.Image, err)
			case !wantFail && len(resp.Auth) != 1:
				t.Errorf("Provide(%q).Auth = %d entries, want 1", req.Image, len(resp.Auth))
			case wantFail && err == nil:
				t.Fatalf("Provide(%q) = %+v, want an error", req.Image, resp)
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Provide(%q) error = %v, want it to match %v", req.Image, err, want)
				}
			}
			if err != nil && tc.wantErr == nil && errors.Is(err, throttle.ErrThrottled) {
				t.Errorf("Provide(%q) error = %v, want no throttling error", req.Image, err)
			}
			for _, want := range tc.wantInErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Provide(%q) error = %q, want it to contain %q", req.Image, err, want)
				}
			}
			for op, want := range tc.wantCalls {
				got := e.srv.Calls(op)
				if got != want && !(tc.wantAtLeast && got > want) {
					t.Errorf("calls of %s = %d, want %d", op, got, want)
				}
			}
		})
	}
}
