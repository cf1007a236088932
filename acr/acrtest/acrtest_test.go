package acrtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/acr/acrtest"
)

// TestIMDSWire checks the fake IMDS's answers to what real clients send and to what they
// must not: the Metadata header and api-version are required, unknown identities are 400.
func TestIMDSWire(t *testing.T) {
	f := acrtest.Start(t)
	tests := []struct {
		name       string
		query      string
		header     bool
		wantStatus int
		wantClient string
	}{
		{name: "system-assigned", query: "api-version=2018-02-01&resource=" + url.QueryEscape(acrtest.Audience), header: true, wantStatus: 200, wantClient: acrtest.SystemAssignedID},
		{name: "user-assigned by client ID", query: "api-version=2018-02-01&resource=r&client_id=" + acrtest.UserAssignedID, header: true, wantStatus: 200, wantClient: acrtest.UserAssignedID},
		{name: "no Metadata header", query: "api-version=2018-02-01&resource=r", wantStatus: 400},
		{name: "no api-version", query: "resource=r", header: true, wantStatus: 400},
		{name: "unknown identity", query: "api-version=2018-02-01&resource=r&client_id=99999999-9999-9999-9999-999999999999", header: true, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, f.IMDSURL()+"/metadata/identity/oauth2/token?"+tt.query, nil)
			if tt.header {
				req.Header.Set("Metadata", "true")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if tt.wantStatus != 200 {
				if body["error"] == nil {
					t.Errorf("error answer %v has no error field", body)
				}
				return
			}
			// IMDS writes its numbers as strings.
			for _, k := range []string{"access_token", "client_id", "expires_in", "expires_on", "not_before", "resource", "token_type"} {
				if _, ok := body[k].(string); !ok {
					t.Errorf("field %s = %v, want a string", k, body[k])
				}
			}
			if body["client_id"] != tt.wantClient {
				t.Errorf("client_id = %v, want %s", body["client_id"], tt.wantClient)
			}
		})
	}
}

// TestExchangeWire checks the fake registry's exchange: a token it issued for the registry
// audience gets a refresh token; an ARM token, a foreign token or another service gets 401.
func TestExchangeWire(t *testing.T) {
	f := acrtest.Start(t)
	token := func(resource string) string {
		req, _ := http.NewRequest(http.MethodGet, f.IMDSURL()+"/metadata/identity/oauth2/token?api-version=2018-02-01&resource="+url.QueryEscape(resource), nil)
		req.Header.Set("Metadata", "true")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&b)
		return b.AccessToken
	}
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
	}{
		{name: "registry audience", form: url.Values{"grant_type": {"access_token"}, "service": {acrtest.LoginServer}, "access_token": {token(acrtest.Audience)}}, wantStatus: 200},
		{name: "the Azure plugin's grant type", form: url.Values{"grant_type": {"access_token_refresh_token"}, "service": {acrtest.LoginServer}, "access_token": {token(acrtest.Audience)}}, wantStatus: 200},
		{name: "ARM audience", form: url.Values{"grant_type": {"access_token"}, "service": {acrtest.LoginServer}, "access_token": {token(acrtest.ARMAudience)}}, wantStatus: 401},
		{name: "foreign token", form: url.Values{"grant_type": {"access_token"}, "service": {acrtest.LoginServer}, "access_token": {"a.b.c"}}, wantStatus: 401},
		{name: "another registry", form: url.Values{"grant_type": {"access_token"}, "service": {"other12.azurecr.io"}, "access_token": {token(acrtest.Audience)}}, wantStatus: 401},
		{name: "another tenant", form: url.Values{"grant_type": {"access_token"}, "service": {acrtest.LoginServer}, "tenant": {"55555555-5555-5555-5555-555555555555"}, "access_token": {token(acrtest.Audience)}}, wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.Client().Post(f.RegistryURL()+"/oauth2/exchange", "application/x-www-form-urlencoded", strings.NewReader(tt.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantStatus == 200 {
				var b struct {
					RefreshToken string `json:"refresh_token"`
				}
				if json.Unmarshal(body, &b); b.RefreshToken == "" {
					t.Errorf("answer %s has no refresh_token", body)
				}
			}
		})
	}
	// The challenge names the registry as the realm's host and the service.
	resp, err := f.Client().Get(f.RegistryURL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header.Get("Www-Authenticate"); resp.StatusCode != 401 || !strings.HasPrefix(h, `Bearer realm="https://`) || !strings.Contains(h, `service="`) {
		t.Errorf("GET /v2/ = %d %q, want 401 with a Bearer challenge", resp.StatusCode, h)
	}
}
