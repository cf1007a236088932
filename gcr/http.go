package gcr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// maxResponseBytes bounds what is read of an STS or IAM Credentials answer.
const maxResponseBytes = 64 << 10

// errTooLarge is an answer longer than the caller's bound.
var errTooLarge = errors.New("answer too large")

// newHTTPClient returns the client of STS, IAM Credentials and google-dockercfg-url: it honours
// HTTPS_PROXY and NO_PROXY (never for loopback), has explicit connection timeouts and follows
// no redirect, so a body holding a token is never replayed to another URL.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 proxy,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// proxy is http.ProxyFromEnvironment, except that the metadata server (a google-dockercfg-url
// may point at it) and link-local addresses are always reached directly.
func proxy(req *http.Request) (*url.URL, error) {
	if isMetadataHost(req.URL.Host) {
		return nil, nil
	}
	if ip := net.ParseIP(req.URL.Hostname()); ip != nil && ip.IsLinkLocalUnicast() {
		return nil, nil
	}
	return http.ProxyFromEnvironment(req)
}

// httpAnswer is a status and a body read in full (within a bound).
type httpAnswer struct {
	status int
	body   []byte
}

// send makes one request built by build, retrying once after a pause when the server is
// overloaded (429, 5xx) or the connection failed, all within timeout. max bounds the body
// read. Errors describe the failure without a body or a header value.
func (p *Provider) send(ctx context.Context, timeout time.Duration, max int64, build func(context.Context) (*http.Request, error)) (*httpAnswer, error) {
	return p.sendRetrying(ctx, timeout, max, build, true)
}

// sendOnce429 is send without the retry of a 429, which is answered as it is: the caller
// waits it out (sendThrottled).
func (p *Provider) sendOnce429(ctx context.Context, timeout time.Duration, max int64, build func(context.Context) (*http.Request, error)) (*httpAnswer, error) {
	return p.sendRetrying(ctx, timeout, max, build, false)
}

func (p *Provider) sendRetrying(ctx context.Context, timeout time.Duration, max int64, build func(context.Context) (*http.Request, error), retry429 bool) (*httpAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(p.retryPause)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, lastErr
			case <-t.C:
			}
		}
		req, err := build(ctx)
		if err != nil {
			return nil, err
		}
		a, err := p.roundTrip(req, max)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, fmt.Errorf("no answer within %s: %w", timeout, ctx.Err())
		case errors.Is(err, errTooLarge):
			return nil, err
		case err != nil:
			lastErr = err
			continue
		case a.status == http.StatusTooManyRequests && retry429 || a.status >= 500:
			lastErr = fmt.Errorf("HTTP %d", a.status)
			if attempt == 0 {
				continue
			}
		}
		return a, nil
	}
	return nil, lastErr
}

func (p *Provider) roundTrip(req *http.Request, max int64) (*httpAnswer, error) {
	resp, err := p.httpClient().Do(req)
	if err != nil {
		return nil, errors.New(causeOf(err)) // *url.Error would repeat the URL, maybe with a query
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %s", causeOf(err))
	}
	if n > max {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, max)
	}
	return &httpAnswer{status: resp.StatusCode, body: buf.Bytes()}, nil
}
