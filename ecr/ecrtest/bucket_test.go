package ecrtest_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/internal/testkit"
)

// answers makes n GetAuthorizationToken calls one after the other and returns, for each, ""
// when served or the API error code and HTTP status.
func answers(t *testing.T, c *ecr.Client, n int) []string {
	return answersWith(t, c, n, nil)
}

// answersWith is answers, calling before(i) before the i-th call (from 0) when not nil.
func answersWith(t *testing.T, c *ecr.Client, n int, before func(int)) []string {
	t.Helper()
	var out []string
	for i := range n {
		if before != nil {
			before(i)
		}
		_, err := c.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
		out = append(out, describe(err))
	}
	return out
}

func describe(err error) string {
	if err == nil {
		return ""
	}
	var api smithy.APIError
	var resp *awshttp.ResponseError
	if !errors.As(err, &api) || !errors.As(err, &resp) {
		return err.Error()
	}
	return api.ErrorCode() + " " + resp.Response.Status
}

func TestBucket(t *testing.T) {
	const throttled = "ThrottlingException 400 Bad Request"
	for _, tc := range []struct {
		name   string
		set    func(s *ecrtest.Server, c *testkit.Clock)
		before func(i int, c *testkit.Clock)
		calls  int
		want   []string
		faults int // recorded with the fault Throttle
	}{
		{
			name:  "burst served, then ThrottlingException",
			set:   func(s *ecrtest.Server, c *testkit.Clock) { s.SetBucket(20, 2) },
			calls: 3, want: []string{"", "", throttled}, faults: 1,
		},
		{
			name: "refilled at the rate",
			set:  func(s *ecrtest.Server, c *testkit.Clock) { s.SetBucket(2, 1) },
			before: func(i int, c *testkit.Clock) {
				if i == 2 {
					c.Advance(500 * time.Millisecond) // one token back at 2 a second
				}
			},
			calls: 3, want: []string{"", throttled, ""}, faults: 1,
		},
		{
			name:  "refilled no further than the burst",
			set:   func(s *ecrtest.Server, c *testkit.Clock) { s.SetBucket(100, 1); c.Advance(time.Hour) },
			calls: 2, want: []string{"", throttled}, faults: 1,
		},
		{
			name: "injected faults take no token",
			set: func(s *ecrtest.Server, c *testkit.Clock) {
				s.SetBucket(0, 1)
				s.Inject(ecrtest.GetAuthorizationToken, ecrtest.AccessDenied, 1)
			},
			calls: 3, want: []string{"AccessDeniedException 400 Bad Request", "", throttled}, faults: 1,
		},
		{
			name:  "burst 0 turns the limit off",
			set:   func(s *ecrtest.Server, c *testkit.Clock) { s.SetBucket(0, 1); s.SetBucket(0, 0) },
			calls: 3, want: []string{"", "", ""},
		},
		{
			name:  "Reset turns it off",
			set:   func(s *ecrtest.Server, c *testkit.Clock) { s.SetBucket(0, 1); s.Reset() },
			calls: 2, want: []string{"", ""},
		},
		{
			name: "set through the control API",
			set: func(s *ecrtest.Server, c *testkit.Clock) {
				if err := (ecrtest.Remote{URL: s.URL()}).SetBucket(0, 1); err != nil {
					t.Fatal(err)
				}
			},
			calls: 2, want: []string{"", throttled}, faults: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testkit.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			srv := ecrtest.StartWith(t, ecrtest.Options{Now: c.Now})
			ec, _, _ := clients(srv)
			tc.set(srv, c)
			var before func(int)
			if tc.before != nil {
				before = func(i int) { tc.before(i, c) }
			}
			got := answersWith(t, ec, tc.calls, before)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
			n := 0
			for _, r := range srv.Requests(ecrtest.GetAuthorizationToken) {
				if r.Fault == ecrtest.Throttle {
					n++
				}
			}
			if n != tc.faults {
				t.Errorf("%d requests recorded as throttled, want %d", n, tc.faults)
			}
		})
	}
}

func TestGate(t *testing.T) {
	srv := ecrtest.Start(t)
	ec, _, _ := clients(srv)
	srv.SetBucket(0, 2)
	// Drain the bucket: the gate must fill it again when it opens.
	answers(t, ec, 2)
	srv.SetGate(3)

	var wg sync.WaitGroup
	got := make([]string, 3)
	call := func(i int) {
		defer wg.Done()
		_, err := ec.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
		got[i] = describe(err)
	}
	wg.Add(2)
	go call(0)
	go call(1)
	waitFor(t, func() bool { n, _ := srv.Gate(); return n == 2 })
	if n := srv.Calls(ecrtest.GetAuthorizationToken); n != 2 {
		t.Errorf("with 2 calls of 3 at the gate, %d calls answered, want the 2 from before", n)
	}
	if _, released := srv.Gate(); !released.IsZero() {
		t.Errorf("gate released at %v with 2 calls of 3", released)
	}
	wg.Add(1)
	call(2)
	wg.Wait()
	if _, released := srv.Gate(); released.IsZero() {
		t.Errorf("gate not released after the 3rd call")
	}
	slices.Sort(got)
	want := []string{"", "", "ThrottlingException 400 Bad Request"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers of the 3 gated calls, bucket of 2 filled at the release (-want +got):\n%s", diff)
	}
	if got := answers(t, ec, 1); got[0] != want[2] {
		t.Errorf("a call after the gate: %q, want it through the gate at once and throttled", got[0])
	}
}

func TestGateRemovedReleasesHeldCalls(t *testing.T) {
	srv := ecrtest.Start(t)
	ec, _, _ := clients(srv)
	if err := (ecrtest.Remote{URL: srv.URL()}).SetGate(5); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ec.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
		done <- err
	}()
	waitFor(t, func() bool { n, _ := srv.Gate(); return n == 1 })
	srv.SetGate(0)
	if err := <-done; err != nil {
		t.Errorf("call held at a gate that was removed: %v, want it served", err)
	}
}

// waitFor polls cond, with a bound.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not met within 10s")
}
