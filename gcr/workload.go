package gcr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/pullkeys/pullkeys/internal/redact"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/providers"
)

// The token exchange (RFC 8693) parameters of Google STS.
const (
	grantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
	// impersonationLifetime is the lifetime asked of generateAccessToken: the default maximum.
	impersonationLifetime = "3600s"
)

// gsaRE is what a Google service account email looks like; it keeps the annotation's value
// from changing the path of the generateAccessToken URL.
var gsaRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9][a-z0-9-]*@[a-z0-9][a-z0-9.-]*\.gserviceaccount\.com$`)
})

// workloadToken returns an access token for the pod's identity: the service account token
// exchanged at STS for a federated token, which impersonates the Google service account named
// by the AnnotationGSA annotation when there is one.
//
// The cache key holds a hash of the service account token itself, not only the annotation's
// Google service account: the kubelet does not tell which Kubernetes service account a token
// belongs to, and anyone may annotate a service account with any Google account, so only the
// exchange proves a right to it. A new token (the kubelet rotates them) costs one exchange.
func (p *Provider) workloadToken(ctx context.Context, req *providers.Request) (*cache.Result, error) {
	if p.audience == "" {
		return nil, fmt.Errorf("%w: the request carries a service account token but --workload-identity-provider is not set; refusing to answer with the node's identity", ErrWorkloadIdentityDisabled)
	}
	gsa := req.ServiceAccountAnnotations[AnnotationGSA]
	if p.gkeImagePull {
		gsa = "" // the federated token itself, as auth-provider-gcp answers
	}
	if gsa != "" && !gsaRE().MatchString(gsa) {
		return nil, fmt.Errorf("%w: annotation %s is %q, not a Google service account email", ErrImpersonation, AnnotationGSA, oneWord(gsa))
	}
	key := cache.NewKey("gcr", "v1", "workload", p.audience, p.stsURL, p.iamURL, gsa, cache.HashIdentity(req.ServiceAccountToken))
	token := req.ServiceAccountToken
	return p.cache.GetOrFetchOwnError(ctx, key, func(ctx context.Context) (*cache.Entry, error) {
		fed, exp, err := p.exchange(ctx, token)
		if err != nil {
			return nil, err
		}
		if gsa == "" {
			return tokenEntry(fed, p.opts.Now(), exp), nil
		}
		at, exp, err := p.impersonate(ctx, fed, gsa)
		if err != nil {
			return nil, err
		}
		return tokenEntry(at, p.opts.Now(), exp), nil
	})
}

// exchange trades a service account token for a federated access token at STS.
func (p *Provider) exchange(ctx context.Context, subjectToken string) (string, time.Time, error) {
	form := url.Values{
		"grant_type":           {grantTypeTokenExchange},
		"audience":             {p.audience},
		"scope":                {ScopeCloudPlatform},
		"requested_token_type": {tokenTypeAccessToken},
		"subject_token_type":   {tokenTypeJWT},
		"subject_token":        {subjectToken},
	}.Encode()
	a, err := p.sendThrottled(ctx, p.opts.HTTPTimeout, maxResponseBytes, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.stsURL, strings.NewReader(form))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	fail := func(format string, args ...any) (string, time.Time, error) {
		return "", time.Time{}, fmt.Errorf("%w at %s for %s: %s", ErrTokenExchange, redact.URL(p.stsURL), p.audience, fmt.Sprintf(format, args...))
	}
	if err != nil {
		return fail("%v", err)
	}
	now := p.opts.Now()
	if a.status != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(a.body, &e)
		code := safeCode(e.Error, `^[a-z_]{1,64}$`)
		hint := ""
		switch code {
		case "invalid_grant":
			hint = ": STS rejected the service account token (check the kubelet's serviceAccountTokenAudience, the provider's issuer and its attribute conditions)"
		case "invalid_target":
			hint = ": STS does not know the workload identity provider (check --workload-identity-provider: it takes the project number, not its id)"
		}
		return fail("HTTP %d%s%s", a.status, prefixed(code), hint)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	switch {
	case json.Unmarshal(a.body, &t) != nil:
		return fail("malformed answer")
	case t.AccessToken == "":
		return fail("no access_token in the answer")
	case t.ExpiresIn <= 0:
		return fail("expires_in %d", t.ExpiresIn)
	}
	return t.AccessToken, now.Add(time.Duration(t.ExpiresIn) * time.Second), nil
}

// impersonate asks IAM Credentials for an access token of gsa, authorised by bearer.
func (p *Provider) impersonate(ctx context.Context, bearer, gsa string) (string, time.Time, error) {
	u := p.iamURL + "/v1/projects/-/serviceAccounts/" + url.PathEscape(gsa) + ":generateAccessToken"
	body, _ := json.Marshal(map[string]any{"scope": []string{ScopeCloudPlatform}, "lifetime": impersonationLifetime})
	a, err := p.sendThrottled(ctx, p.opts.HTTPTimeout, maxResponseBytes, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+bearer)
		return req, nil
	})
	fail := func(format string, args ...any) (string, time.Time, error) {
		return "", time.Time{}, fmt.Errorf("%w: generateAccessToken for %s at %s: %s", ErrImpersonation, gsa, redact.URL(p.iamURL), fmt.Sprintf(format, args...))
	}
	if err != nil {
		return fail("%v", err)
	}
	if a.status != http.StatusOK {
		var e struct {
			Error struct {
				Status string `json:"status"`
			} `json:"error"`
		}
		json.Unmarshal(a.body, &e)
		status := safeCode(e.Error.Status, `^[A-Z_]{1,64}$`)
		hint := ""
		if a.status == http.StatusForbidden || status == "PERMISSION_DENIED" {
			hint = fmt.Sprintf(": grant the workload identity principal roles/iam.workloadIdentityUser on %s", gsa)
		}
		return fail("HTTP %d%s%s", a.status, prefixed(status), hint)
	}
	var t struct {
		AccessToken string `json:"accessToken"`
		ExpireTime  string `json:"expireTime"`
	}
	if json.Unmarshal(a.body, &t) != nil {
		return fail("malformed answer")
	}
	if t.AccessToken == "" {
		return fail("no accessToken in the answer")
	}
	exp, err := time.Parse(time.RFC3339, t.ExpireTime)
	if err != nil {
		return fail("expireTime is not an RFC 3339 time")
	}
	return t.AccessToken, exp, nil
}

// safeCode returns code when it is a well-formed error code (matching re), else "": error
// codes are enumerations, while the rest of an error body may echo the request.
func safeCode(code, re string) string {
	if regexp.MustCompile(re).MatchString(code) {
		return code
	}
	return ""
}

func prefixed(code string) string {
	if code == "" {
		return ""
	}
	return " " + code
}
