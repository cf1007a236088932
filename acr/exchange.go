package acr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
)

// Username is the registry user name that goes with an ACR refresh token.
const Username = "00000000-0000-0000-0000-000000000000"

// aadToken asks AAD (or IMDS) for an access token of id for the registry audience.
func (p *Provider) aadToken(ctx context.Context, id *identity, authority string) (azcore.AccessToken, error) {
	cred, err := id.newCred(p, authority)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("acr: %w: %s: %s", ErrAAD, id.describe, sanitize(err))
	}
	timeout := p.httpTimeout
	if id.imds {
		timeout = p.imdsTimeout
	}
	// The retries of the SDK happen within this deadline: give up in time to say why.
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{Scope}})
	if err != nil {
		return azcore.AccessToken{}, p.aadError(ctx, id, authority, timeout, err)
	}
	if tok.Token == "" || !tok.ExpiresOn.After(p.now()) {
		return azcore.AccessToken{}, fmt.Errorf("acr: %w: %s: the answer holds no token, or one already expired", ErrAAD, id.describe)
	}
	return tok, nil
}

// aadError describes a failed token request without a response body: its status, and AAD's
// error code and AADSTS number when the body has them.
func (p *Provider) aadError(ctx context.Context, id *identity, authority string, timeout time.Duration, err error) error {
	where := "AAD " + authority
	if id.imds {
		where = "IMDS " + p.imdsEndpoint
	}
	var ie *imdsError
	if errors.As(err, &ie) {
		hint := ""
		if ie.status == http.StatusBadRequest {
			hint = ": IMDS does not know the identity (is it assigned to this VM or scale set?)"
		}
		return fmt.Errorf("acr: %w: %s at %s: %s%s", ErrAAD, id.describe, where, ie, hint)
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		code := aadCode(afe.RawResponse)
		hint := ""
		switch {
		case code == "invalid_client" || code == "unauthorized_client":
			hint = ": AAD refused the client's credentials (a wrong or expired secret, or a client ID from another tenant)"
		case code == "invalid_request" && id.kind == kindWorkload:
			hint = ": AAD refused the service account token (is there a federated credential for this issuer and subject, with audience api://AzureADTokenExchange?)"
		}
		return fmt.Errorf("acr: %w: %s at %s: HTTP %d%s%s", ErrAAD, id.describe, where, afe.RawResponse.StatusCode, prefixed(code), hint)
	}
	var oe *net.OpError
	switch {
	case errors.As(err, &oe) && id.imds:
		return fmt.Errorf("acr: %w: %s: %s (is this an Azure VM? --imds-endpoint moves the endpoint)", ErrIMDSUnreachable, id.describe, oe)
	case ctx.Err() != nil && id.imds:
		return fmt.Errorf("acr: %w: %s: no answer within %s (is this an Azure VM? --imds-endpoint moves the endpoint)", ErrIMDSUnreachable, id.describe, timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("acr: %w: %s at %s: no answer within %s", ErrAAD, id.describe, where, timeout)
	}
	return fmt.Errorf("acr: %w: %s at %s: %s", ErrAAD, id.describe, where, sanitize(err))
}

// aadCode returns "<error> AADSTS<n>" from an AAD or IMDS error body, keeping only codes
// shaped like codes.
func aadCode(resp *http.Response) string {
	var e struct {
		Error      string `json:"error"`
		ErrorCodes []int  `json:"error_codes"`
	}
	if resp.Body == nil {
		return ""
	}
	// azidentity has read the body into a replayable buffer.
	dec := json.NewDecoder(io.LimitReader(resp.Body, 64<<10))
	if dec.Decode(&e) != nil {
		return ""
	}
	code := safeCode(e.Error)
	if len(e.ErrorCodes) > 0 && e.ErrorCodes[0] > 0 {
		code += fmt.Sprintf(" AADSTS%d", e.ErrorCodes[0])
	}
	return code
}

func prefixed(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}

// sanitize describes an error from an SDK without its message, which may carry a response
// body: a network error's operation and address, or the error's type.
func sanitize(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "deadline exceeded"
	}
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	return fmt.Sprintf("%T", errors.Unwrap(err))
}

// exchange trades an AAD access token for a refresh token of the registry, at
// https://<login server>/oauth2/exchange (or --exchange-endpoint).
func (p *Provider) exchange(ctx context.Context, reg Registry, tenant, aad string) (string, error) {
	endpoint := p.exchangeEndpoint
	if endpoint == "" {
		endpoint = "https://" + reg.LoginServer
	}
	o := p.clientOptions("")
	client, err := azcontainerregistry.NewAuthenticationClient(endpoint, &azcontainerregistry.AuthenticationClientOptions{ClientOptions: o})
	if err != nil {
		return "", fmt.Errorf("acr: %w at %s: %s", ErrExchange, reg.LoginServer, sanitize(err))
	}
	opts := &azcontainerregistry.AuthenticationClientExchangeAADAccessTokenForACRRefreshTokenOptions{AccessToken: &aad}
	if tenant != "" {
		opts.Tenant = &tenant
	}
	ctx, cancel := context.WithTimeout(ctx, p.httpTimeout)
	defer cancel()
	resp, err := client.ExchangeAADAccessTokenForACRRefreshToken(ctx, azcontainerregistry.PostContentSchemaGrantTypeAccessToken, reg.LoginServer, opts)
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) {
			hint := ""
			switch re.StatusCode {
			case http.StatusUnauthorized, http.StatusForbidden:
				hint = ": the registry refused the AAD token (does the identity have the AcrPull role on the registry, and is the registry in the identity's tenant?)"
			case http.StatusNotFound:
				hint = ": no such registry"
			}
			return "", fmt.Errorf("acr: %w at %s: HTTP %d%s%s", ErrExchange, reg.LoginServer, re.StatusCode, prefixed(safeCode(re.ErrorCode)), hint)
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("acr: %w at %s: no answer within %s", ErrExchange, reg.LoginServer, p.httpTimeout)
		}
		return "", fmt.Errorf("acr: %w at %s: %s", ErrExchange, reg.LoginServer, sanitize(err))
	}
	if resp.RefreshToken == nil || *resp.RefreshToken == "" {
		return "", fmt.Errorf("acr: %w at %s: the answer holds no refresh_token", ErrExchange, reg.LoginServer)
	}
	return *resp.RefreshToken, nil
}
