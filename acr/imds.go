package acr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// IMDSAPIVersion is the api-version of the managed identity token requests (the one
// azidentity sends).
const IMDSAPIVersion = "2018-02-01"

// imdsCredential asks the instance metadata service for managed identity tokens, by IMDS's
// documented REST shape: GET <endpoint>/metadata/identity/oauth2/token?api-version=…&
// resource=…[&client_id=…|&msi_res_id=…] with "Metadata: true".
//
// azidentity's ManagedIdentityCredential is not used: its endpoint is a constant (no option
// or environment variable moves it, so tests and proxies need a rewriting transport) and it
// keeps tokens in a process-wide cache keyed without the endpoint, in front of this package's
// own cache.
type imdsCredential struct {
	p        *Provider
	clientID string // "" or a GUID
	resource string // "" or a resource ID
}

// imdsError is an IMDS answer other than 200.
type imdsError struct {
	status int
	code   string
}

func (e *imdsError) Error() string { return fmt.Sprintf("HTTP %d%s", e.status, prefixed(e.code)) }

// GetToken implements azcore.TokenCredential.
func (c *imdsCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if len(opts.Scopes) != 1 {
		return azcore.AccessToken{}, errors.New("one scope")
	}
	q := url.Values{"api-version": {IMDSAPIVersion}, "resource": {strings.TrimSuffix(opts.Scopes[0], "/.default")}}
	switch {
	case c.clientID != "":
		q.Set("client_id", c.clientID)
	case c.resource != "":
		q.Set("msi_res_id", c.resource)
	}
	u := c.p.imdsEndpoint + "/metadata/identity/oauth2/token?" + q.Encode()
	delay := c.p.retryDelay
	for attempt := 0; ; attempt++ {
		tok, retry, err := c.try(ctx, u)
		if err == nil || !retry || attempt >= c.p.maxRetries {
			return tok, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			// The last attempt's error says more than the deadline does.
			return azcore.AccessToken{}, err
		case <-t.C:
		}
		delay *= 2
	}
}

// try makes one request; retry says whether a failure is worth another (IMDS's guidance:
// 404, 410, 429, 5xx and connection errors).
func (c *imdsCredential) try(ctx context.Context, u string) (azcore.AccessToken, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return azcore.AccessToken{}, false, err
	}
	req.Header.Set("Metadata", "true")
	resp, err := c.p.transport.Do(req)
	if err != nil {
		return azcore.AccessToken{}, ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return azcore.AccessToken{}, ctx.Err() == nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(body, &e)
		s := resp.StatusCode
		retry := s == http.StatusNotFound || s == http.StatusGone || s == http.StatusTooManyRequests || s >= 500
		return azcore.AccessToken{}, retry, &imdsError{status: s, code: safeCode(e.Error)}
	}
	var t struct {
		AccessToken string          `json:"access_token"`
		ExpiresOn   json.RawMessage `json:"expires_on"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return azcore.AccessToken{}, false, &imdsError{status: resp.StatusCode, code: "malformed answer"}
	}
	now := c.p.now()
	var exp time.Time
	if on, ok := number(t.ExpiresOn); ok {
		exp = time.Unix(on, 0)
	} else if in, ok := number(t.ExpiresIn); ok {
		exp = now.Add(time.Duration(in) * time.Second)
	} else {
		return azcore.AccessToken{}, false, &imdsError{status: resp.StatusCode, code: "answer without expires_on"}
	}
	return azcore.AccessToken{Token: t.AccessToken, ExpiresOn: exp}, false, nil
}

// number reads a JSON number or a string holding one, as IMDS writes them.
func number(raw json.RawMessage) (int64, bool) {
	s := strings.Trim(string(raw), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}
