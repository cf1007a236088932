package gcrtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"
)

// The constants of the RFC 8693 token exchange that Google STS expects.
const (
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// STS is a fake of Google's Security Token Service token endpoint (POST /v1/token, form
// encoded, RFC 8693). It exchanges a subject token it was told to accept (Allow) for the
// audience it was given (NewSTS) and answers anything else as the real service does: 400 with
// an OAuth error code.
type STS struct {
	srv *httptest.Server
	*behaviour

	mu        sync.Mutex
	audience  string
	allowed   map[string]bool
	expiresIn time.Duration
	requests  []url.Values
}

// NewSTS starts a fake STS on 127.0.0.1 that accepts exchanges for audience (the workload
// identity provider, "//iam.googleapis.com/projects/…/providers/…"). Close it when done.
func NewSTS(audience string) *STS {
	s := &STS{behaviour: newBehaviour(), audience: audience, allowed: make(map[string]bool), expiresIn: time.Hour}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/token", s.serve)
	s.srv = httptest.NewServer(mux)
	return s
}

// URL returns the token endpoint, for the provider's STS endpoint override.
func (s *STS) URL() string { return s.srv.URL + "/v1/token" }

// Close shuts the server down.
func (s *STS) Close() {
	s.behaviour.close()
	s.srv.Close()
}

// Allow makes subjectToken (a Kubernetes service account token) exchangeable.
func (s *STS) Allow(subjectToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowed[subjectToken] = true
}

// SetExpiresIn sets the lifetime of issued tokens (default one hour).
func (s *STS) SetExpiresIn(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiresIn = d
}

// SetLatency delays every answer by d.
func (s *STS) SetLatency(d time.Duration) { s.setLatency(d) }

// Fail answers the next times requests with status (times < 0: forever, 0: clear).
func (s *STS) Fail(status, times int) { s.fail("", status, times) }

// Calls returns how many requests reached the token endpoint.
func (s *STS) Calls() int { return s.totalCalls() }

// Requests returns the forms of the requests received so far, oldest first.
func (s *STS) Requests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]url.Values, len(s.requests))
	for i, r := range s.requests {
		out[i] = cloneValues(r)
	}
	return out
}

// FederatedToken returns the access token the fake issues for subjectToken: a test hands it to
// IAMCredentials.Allow to let the federated identity impersonate a service account.
func FederatedToken(subjectToken string) string { return "ya29.fed-" + shortHash(subjectToken) }

func (s *STS) serve(w http.ResponseWriter, r *http.Request) {
	if !s.enter(w, r, "") {
		return
	}
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	form := cloneValues(r.PostForm)
	s.mu.Lock()
	s.requests = append(s.requests, form)
	audience, allowed, expiresIn := s.audience, s.allowed[form.Get("subject_token")], s.expiresIn
	s.mu.Unlock()

	switch {
	case form.Get("grant_type") != GrantTypeTokenExchange,
		form.Get("subject_token_type") != TokenTypeJWT,
		form.Get("requested_token_type") != TokenTypeAccessToken,
		form.Get("scope") == "":
		oauthError(w, http.StatusBadRequest, "invalid_request")
	case form.Get("audience") != audience:
		oauthError(w, http.StatusBadRequest, "invalid_target")
	case !allowed:
		oauthError(w, http.StatusBadRequest, "invalid_grant")
	default:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token":      FederatedToken(form.Get("subject_token")),
			"issued_token_type": TokenTypeAccessToken,
			"token_type":        "Bearer",
			"expires_in":        int64(expiresIn / time.Second),
		})
	}
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "fake sts: " + code})
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}
