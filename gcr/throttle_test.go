package gcr

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/internal/throttle"
)

// TestWorkloadIdentityThrottled: STS's and IAM Credentials' 429s are waited out for as long
// as the deadline can hold another attempt, then fail at once saying so; 5xx answers keep the
// single short retry.
func TestWorkloadIdentityThrottled(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(w *workload)
		policy    *throttle.Policy // nil: the tests' fast one
		timeout   time.Duration    // 0: 30 s, a hang detector
		wantErr   []error
		wantInErr []string
		wantSTS   int
		wantIAM   int
	}{
		{
			name:    "STS 429 four times, then served",
			setup:   func(w *workload) { w.sts.Fail(http.StatusTooManyRequests, 4) },
			wantSTS: 5, wantIAM: 1,
		},
		{
			name:    "IAM 429 six times, then served",
			setup:   func(w *workload) { w.iam.Fail(http.StatusTooManyRequests, 6) },
			wantSTS: 1, wantIAM: 7,
		},
		{
			name:      "STS 429 with a deadline too short for another attempt",
			setup:     func(w *workload) { w.sts.Fail(http.StatusTooManyRequests, -1) },
			policy:    &throttle.Policy{},
			timeout:   900 * time.Millisecond,
			wantErr:   []error{ErrTokenExchange},
			wantInErr: []string{"HTTP 429", "cannot hold another"},
			wantSTS:   1,
		},
		{
			name:      "IAM 429 until the deadline cannot hold another attempt",
			setup:     func(w *workload) { w.iam.Fail(http.StatusTooManyRequests, -1) },
			timeout:   1500 * time.Millisecond,
			wantErr:   []error{ErrImpersonation},
			wantInErr: []string{"HTTP 429", "cannot hold another"},
			wantSTS:   1, wantIAM: -2, // at least 2
		},
		{
			name:      "STS 503 keeps the single short retry",
			setup:     func(w *workload) { w.sts.Fail(http.StatusServiceUnavailable, -1) },
			wantErr:   []error{ErrTokenExchange},
			wantInErr: []string{"HTTP 503"},
			wantSTS:   2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorkload(t)
			tc.setup(w)
			p, _ := w.provider(t)
			if tc.policy != nil {
				p.throttle = *tc.policy
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()

			resp, err := p.Provide(ctx, saRequest("gcr.io/p/app", saToken, gsa))

			if ctx.Err() != nil {
				t.Errorf("Provide() returned after its deadline; want it to stop while it could still answer")
			}
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Provide() = %v, want success", err)
			case tc.wantErr != nil && err == nil:
				t.Fatalf("Provide() = %+v, want an error", resp)
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Provide() = %v, want it to match %v", err, want)
				}
			}
			for _, want := range tc.wantInErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Provide() = %q, want it to say %q", err, want)
				}
			}
			for _, c := range []struct {
				name      string
				got, want int
			}{{"STS", w.sts.Calls(), tc.wantSTS}, {"IAM", w.iam.Calls(), tc.wantIAM}} {
				if c.want >= 0 && c.got != c.want || c.want < 0 && c.got < -c.want {
					t.Errorf("%s calls = %d, want %d (negative: at least)", c.name, c.got, c.want)
				}
			}
		})
	}
}
