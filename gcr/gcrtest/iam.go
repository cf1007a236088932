package gcrtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// IAMCredentials is a fake of the IAM Credentials API's generateAccessToken:
//
//	POST /v1/projects/-/serviceAccounts/<email>:generateAccessToken
//	Authorization: Bearer <token>
//	{"scope":["…"],"lifetime":"3600s"}  →  {"accessToken":"…","expireTime":"<RFC 3339>"}
//
// A caller may impersonate an account only when allowed (Allow); otherwise the answer is 403
// PERMISSION_DENIED, and 401 UNAUTHENTICATED without a bearer token, in Google's JSON error
// shape.
type IAMCredentials struct {
	srv *httptest.Server
	*behaviour

	mu       sync.Mutex
	allowed  map[[2]string]bool // bearer, email
	now      func() time.Time
	requests []IAMRequest
}

// IAMRequest is a generateAccessToken request as the fake received it.
type IAMRequest struct {
	Email    string
	Bearer   string
	Scope    []string
	Lifetime string
}

// NewIAMCredentials starts a fake IAM Credentials API on 127.0.0.1. Close it when done.
func NewIAMCredentials() *IAMCredentials {
	c := &IAMCredentials{behaviour: newBehaviour(), allowed: make(map[[2]string]bool), now: time.Now}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	return c
}

// URL returns the base URL, for the provider's IAM Credentials endpoint override.
func (c *IAMCredentials) URL() string { return c.srv.URL }

// Close shuts the server down.
func (c *IAMCredentials) Close() {
	c.behaviour.close()
	c.srv.Close()
}

// Allow lets the holder of bearer impersonate the service account email.
func (c *IAMCredentials) Allow(bearer, email string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.allowed[[2]string{bearer, email}] = true
}

// SetClock sets the clock expireTime is computed from (default time.Now), so that a test with a
// fake clock gets tokens that are valid by that clock.
func (c *IAMCredentials) SetClock(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// SetLatency delays every answer by d.
func (c *IAMCredentials) SetLatency(d time.Duration) { c.setLatency(d) }

// Fail answers the next times requests with status (times < 0: forever, 0: clear).
func (c *IAMCredentials) Fail(status, times int) { c.fail("", status, times) }

// Calls returns how many requests reached the server.
func (c *IAMCredentials) Calls() int { return c.totalCalls() }

// Requests returns the requests received so far, oldest first.
func (c *IAMCredentials) Requests() []IAMRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]IAMRequest(nil), c.requests...)
}

// ImpersonatedToken returns the access token the fake issues to bearer for email.
func ImpersonatedToken(bearer, email string) string {
	return "ya29.iam-" + shortHash(bearer+"\x00"+email)
}

func (c *IAMCredentials) serve(w http.ResponseWriter, r *http.Request) {
	if !c.enter(w, r, "") {
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/-/serviceAccounts/")
	email, ok2 := strings.CutSuffix(rest, ":generateAccessToken")
	if !ok || !ok2 || email == "" || strings.Contains(email, "/") {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "unknown method")
		return
	}
	if r.Method != http.MethodPost {
		googleError(w, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "method not allowed")
		return
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || bearer == "" {
		googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "request had invalid authentication credentials")
		return
	}
	var body struct {
		Scope    []string `json:"scope"`
		Lifetime string   `json:"lifetime"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || len(body.Scope) == 0 {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid request body")
		return
	}
	lifetime := time.Hour
	if body.Lifetime != "" {
		d, err := time.ParseDuration(body.Lifetime)
		if err != nil || !strings.HasSuffix(body.Lifetime, "s") || d <= 0 || d > 12*time.Hour {
			googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid lifetime")
			return
		}
		lifetime = d
	}
	c.mu.Lock()
	c.requests = append(c.requests, IAMRequest{Email: email, Bearer: bearer, Scope: body.Scope, Lifetime: body.Lifetime})
	allowed, now := c.allowed[[2]string{bearer, email}], c.now
	c.mu.Unlock()
	if !allowed {
		googleError(w, http.StatusForbidden, "PERMISSION_DENIED",
			"Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"accessToken": ImpersonatedToken(bearer, email),
		"expireTime":  now().Add(lifetime).UTC().Format(time.RFC3339),
	})
}

func googleError(w http.ResponseWriter, code int, status, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": message, "status": status}})
}
