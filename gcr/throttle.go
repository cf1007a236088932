package gcr

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/pullkeys/pullkeys/internal/throttle"
	"github.com/pullkeys/pullkeys/providers"
)

// errTooManyRequests is an HTTP 429 answer of STS or IAM Credentials.
var errTooManyRequests = errors.New("HTTP 429")

// sendThrottled is send for STS and IAM Credentials, which answer 429 when a project's quota
// is spent (a cluster's nodes starting at once, say): a 429 is waited out with full jitter
// and a growing ceiling (internal/throttle) for as long as the request's deadline can hold
// another attempt (providers.DefaultTimeout from now without one), instead of send's single
// retry. Each attempt has timeout; 5xx answers and
// connection errors keep send's short retry.
func (p *Provider) sendThrottled(ctx context.Context, timeout time.Duration, max int64, build func(context.Context) (*http.Request, error)) (*httpAnswer, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, providers.DefaultTimeout)
		defer cancel()
	}
	var a *httpAnswer
	err := throttle.Do(ctx, p.throttle, func(err error) bool { return errors.Is(err, errTooManyRequests) }, func(ctx context.Context) error {
		var err error
		a, err = p.sendOnce429(ctx, timeout, max, build)
		if err == nil && a.status == http.StatusTooManyRequests {
			return errTooManyRequests
		}
		return err
	})
	return a, err
}
