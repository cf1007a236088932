package gcrtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// get requests the metadata path (relative to /computeMetadata/v1/) and returns the status,
// the body and the Metadata-Flavor header of the answer.
func get(t *testing.T, m *Metadata, path string, flavored bool) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, m.URL()+"/computeMetadata/v1/"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if flavored {
		req.Header.Set("Metadata-Flavor", "Google")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("Metadata-Flavor")
}

func TestMetadataServes(t *testing.T) {
	m := NewMetadata()
	defer m.Close()
	m.SetAttribute("google-dockercfg", `{"auths":{}}`)
	m.SetAccount("robot@p.iam.gserviceaccount.com", Account{Email: "robot@p.iam.gserviceaccount.com", Scopes: []string{ScopeLoggingWrite}, Token: "fixed", ExpiresIn: 120 * time.Second})

	tests := []struct {
		name       string
		path       string
		flavored   bool
		wantStatus int
		wantBody   string
	}{
		{name: "no Metadata-Flavor header is refused", path: TokenPath("default"), wantStatus: http.StatusForbidden},
		{name: "scopes", path: ScopesPath("default"), flavored: true, wantStatus: 200, wantBody: ScopeCloudPlatform + "\n"},
		{name: "email", path: EmailPath("default"), flavored: true, wantStatus: 200, wantBody: DefaultEmail},
		{name: "account by email", path: EmailPath(DefaultEmail), flavored: true, wantStatus: 200, wantBody: DefaultEmail},
		{name: "second account scopes", path: ScopesPath("robot@p.iam.gserviceaccount.com"), flavored: true, wantStatus: 200, wantBody: ScopeLoggingWrite + "\n"},
		{name: "fixed token", path: TokenPath("robot@p.iam.gserviceaccount.com"), flavored: true, wantStatus: 200, wantBody: `{"access_token":"fixed","expires_in":120,"token_type":"Bearer"}` + "\n"},
		{name: "unknown account", path: TokenPath("nobody"), flavored: true, wantStatus: 404},
		{name: "attribute", path: AttributePath("google-dockercfg"), flavored: true, wantStatus: 200, wantBody: `{"auths":{}}`},
		{name: "unset attribute", path: AttributePath("google-dockercfg-url"), flavored: true, wantStatus: 404},
		{name: "project id", path: "project/project-id", flavored: true, wantStatus: 200, wantBody: ProjectID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, flavor := get(t, m, tt.path, tt.flavored)
			if status != tt.wantStatus || (tt.wantBody != "" && body != tt.wantBody) {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, status, body, tt.wantStatus, tt.wantBody)
			}
			if flavor != "Google" {
				t.Errorf("GET %s: Metadata-Flavor = %q, want Google", tt.path, flavor)
			}
		})
	}
}

func TestMetadataTokensAndCounts(t *testing.T) {
	m := NewMetadata()
	defer m.Close()
	for i := 0; i < 2; i++ {
		status, body, _ := get(t, m, TokenPath("default"), true)
		var tok struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
			TokenType   string `json:"token_type"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &tok) != nil || tok.ExpiresIn != 3599 || tok.TokenType != "Bearer" {
			t.Fatalf("GET token = %d %q", status, body)
		}
	}
	if diff := cmp.Diff([]string{"ya29.fake-1", "ya29.fake-2"}, m.Issued()); diff != "" {
		t.Errorf("Issued() mismatch (-want +got):\n%s", diff)
	}
	if got := m.Calls(TokenPath("default")); got != 2 {
		t.Errorf("Calls(token) = %d, want 2", got)
	}
	if got := m.TotalCalls(); got != 2 {
		t.Errorf("TotalCalls() = %d, want 2", got)
	}
}

func TestMetadataFaults(t *testing.T) {
	m := NewMetadata()
	defer m.Close()
	m.Fail(TokenPath("default"), http.StatusServiceUnavailable, 2)
	var got []int
	for i := 0; i < 3; i++ {
		status, _, _ := get(t, m, TokenPath("default"), true)
		got = append(got, status)
	}
	if diff := cmp.Diff([]int{503, 503, 200}, got); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	m.Fail("", http.StatusInternalServerError, -1)
	if status, _, _ := get(t, m, ScopesPath("default"), true); status != 500 {
		t.Errorf("GET scopes with a permanent fault = %d, want 500", status)
	}
	m.Fail("", 0, 0)
	m.SetScopes("default", ScopeLoggingWrite, ScopeMonitoring)
	if status, body, _ := get(t, m, ScopesPath("default"), true); status != 200 || body != ScopeLoggingWrite+"\n"+ScopeMonitoring+"\n" {
		t.Errorf("GET narrowed scopes = %d %q", status, body)
	}
}

func TestMetadataLatencyEndsWithClient(t *testing.T) {
	m := NewMetadata()
	defer m.Close()
	m.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.URL()+"/computeMetadata/v1/"+TokenPath("default"), nil)
	req.Header.Set("Metadata-Flavor", "Google")
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GET with an hour of latency: err = %v, want deadline exceeded", err)
	}
}

func TestSTS(t *testing.T) {
	const aud = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"
	s := NewSTS(aud)
	defer s.Close()
	s.Allow("good-jwt")
	form := func(subject, audience string) url.Values {
		return url.Values{
			"grant_type": {GrantTypeTokenExchange}, "subject_token_type": {TokenTypeJWT},
			"requested_token_type": {TokenTypeAccessToken}, "scope": {"https://www.googleapis.com/auth/cloud-platform"},
			"audience": {audience}, "subject_token": {subject},
		}
	}
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantBody   string
	}{
		{name: "exchange", form: form("good-jwt", aud), wantStatus: 200, wantBody: FederatedToken("good-jwt")},
		{name: "unknown subject", form: form("bad-jwt", aud), wantStatus: 400, wantBody: "invalid_grant"},
		{name: "other audience", form: form("good-jwt", "//iam.googleapis.com/other"), wantStatus: 400, wantBody: "invalid_target"},
		{name: "no grant type", form: url.Values{"subject_token": {"good-jwt"}}, wantStatus: 400, wantBody: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.PostForm(s.URL(), tt.form)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("POST %s = %d %s, want %d with %q", s.URL(), resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	if got := s.Calls(); got != len(tests) {
		t.Errorf("Calls() = %d, want %d", got, len(tests))
	}
	if got := s.Requests()[0].Get("subject_token"); got != "good-jwt" {
		t.Errorf("Requests()[0] subject_token = %q, want good-jwt", got)
	}
}

func TestIAMCredentials(t *testing.T) {
	c := NewIAMCredentials()
	defer c.Close()
	const gsa = "puller@p.iam.gserviceaccount.com"
	c.Allow("fed", gsa)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c.SetClock(func() time.Time { return now })
	post := func(bearer, email, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, c.URL()+"/v1/projects/-/serviceAccounts/"+email+":generateAccessToken", strings.NewReader(body))
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const body = `{"scope":["https://www.googleapis.com/auth/cloud-platform"],"lifetime":"3600s"}`
	tests := []struct {
		name, bearer, email, body string
		wantStatus                int
		wantBody                  string
	}{
		{name: "allowed", bearer: "fed", email: gsa, body: body, wantStatus: 200,
			wantBody: `{"accessToken":"` + ImpersonatedToken("fed", gsa) + `","expireTime":"2030-01-02T04:04:05Z"}`},
		{name: "not allowed", bearer: "other", email: gsa, body: body, wantStatus: 403, wantBody: "PERMISSION_DENIED"},
		{name: "no bearer", email: gsa, body: body, wantStatus: 401, wantBody: "UNAUTHENTICATED"},
		{name: "no scope", bearer: "fed", email: gsa, body: `{"lifetime":"3600s"}`, wantStatus: 400, wantBody: "INVALID_ARGUMENT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := post(tt.bearer, tt.email, tt.body)
			if status != tt.wantStatus || !strings.Contains(got, tt.wantBody) {
				t.Errorf("generateAccessToken = %d %s, want %d with %s", status, got, tt.wantStatus, tt.wantBody)
			}
		})
	}
	c.Fail(http.StatusServiceUnavailable, 1)
	if status, _ := post("fed", gsa, body); status != 503 {
		t.Errorf("generateAccessToken with a fault = %d, want 503", status)
	}
	if status, _ := post("fed", gsa, body); status != 200 {
		t.Errorf("generateAccessToken after the fault = %d, want 200", status)
	}
}
