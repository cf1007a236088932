package acrtest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// IMDSAPIVersion is an api-version IMDS accepts for tokens (the one azidentity sends).
const IMDSAPIVersion = "2018-02-01"

func (f *Fake) imds(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metadata/identity/oauth2/token" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	rec := &recording{Request: Request{Op: IMDSToken, Resource: q.Get("resource"), ClientID: q.Get("client_id")}}
	if !f.enter(w, r, rec) {
		return
	}
	fail := func(status int, code, desc string) {
		rec.Status = status
		f.record(rec)
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	switch {
	case r.Method != http.MethodGet:
		fail(http.StatusMethodNotAllowed, "invalid_request", "GET only")
		return
	case r.Header.Get("Metadata") != "true":
		fail(http.StatusBadRequest, "invalid_request", "Required metadata header not specified")
		return
	case q.Get("api-version") == "":
		fail(http.StatusBadRequest, "invalid_request", "Required query variable 'api-version' is missing")
		return
	case q.Get("resource") == "":
		fail(http.StatusBadRequest, "invalid_request", "Required query variable 'resource' is missing")
		return
	}
	f.mu.Lock()
	clientID := strings.ToLower(q.Get("client_id"))
	known := clientID == "" && f.system || clientID != "" && f.userIDs[clientID]
	res := q.Get("msi_res_id")
	if res == "" {
		res = q.Get("mi_res_id")
	}
	if res != "" {
		// A resource ID names its identity by its last segment in this fake.
		i := strings.LastIndexByte(res, '/')
		clientID = strings.ToLower(res[i+1:])
		known = f.userIDs[clientID]
	}
	f.mu.Unlock()
	if !known {
		fail(http.StatusBadRequest, "invalid_request", "Identity not found")
		return
	}
	if clientID == "" {
		clientID = SystemAssignedID
	}
	f.mu.Lock()
	life := f.aadLife
	now := f.now()
	f.mu.Unlock()
	tok := f.issue(claims{Aud: strings.TrimSuffix(q.Get("resource"), "/"), Tid: Tenant, AppID: clientID}, life)
	rec.ClientID, rec.Issued, rec.Status = clientID, tok, http.StatusOK
	f.record(rec)
	secs := strconv.FormatInt(int64(life.Seconds()), 10)
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token":   tok,
		"client_id":      clientID,
		"expires_in":     secs,
		"expires_on":     strconv.FormatInt(now.Add(life).Unix(), 10),
		"ext_expires_in": secs,
		"not_before":     strconv.FormatInt(now.Unix(), 10),
		"resource":       q.Get("resource"),
		"token_type":     "Bearer",
	})
}

func (f *Fake) aad(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	tenant := parts[0]
	rest := strings.Join(parts[1:], "/")
	base := "https://" + r.Host + "/" + tenant
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		rec := &recording{Request: Request{Op: Discovery, Tenant: tenant}}
		if !f.enter(w, r, rec) {
			return
		}
		rec.Status = http.StatusOK
		f.record(rec)
		writeJSON(w, http.StatusOK, map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
			"issuer":                                base + "/v2.0",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"tenant_region_scope":                   "NA",
		})
	case "oauth2/v2.0/token":
		f.aadToken(w, r, tenant)
	default:
		http.NotFound(w, r)
	}
}

// aadError writes AAD's error shape.
func aadError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s", aadsts, desc),
		"error_codes":       []int{aadsts},
		"timestamp":         "2026-01-01 00:00:00Z",
		"trace_id":          "00000000-0000-0000-0000-000000000001",
		"correlation_id":    "00000000-0000-0000-0000-000000000002",
	})
}

func (f *Fake) aadToken(w http.ResponseWriter, r *http.Request, tenant string) {
	rec := &recording{Request: Request{Op: AADToken, Tenant: tenant}}
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	rec.ClientID, rec.Resource, rec.GrantType = r.PostForm.Get("client_id"), r.PostForm.Get("scope"), r.PostForm.Get("grant_type")
	rec.Assertion = r.PostForm.Get("client_assertion")
	if !f.enter(w, r, rec) {
		return
	}
	fail := func(status int, code string, aadsts int, desc string) {
		rec.Status = status
		f.record(rec)
		aadError(w, status, code, aadsts, desc)
	}
	if rec.GrantType != "client_credentials" {
		fail(http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
		return
	}
	f.mu.Lock()
	app, ok := f.apps[strings.ToLower(rec.ClientID)]
	f.mu.Unlock()
	if !ok || !strings.EqualFold(app.Tenant, tenant) {
		fail(http.StatusBadRequest, "unauthorized_client", 700016, "Application was not found in the directory.")
		return
	}
	sub := ""
	switch {
	case r.PostForm.Has("client_secret"):
		if app.Secret == "" || r.PostForm.Get("client_secret") != app.Secret {
			fail(http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided.")
			return
		}
	case r.PostForm.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
		c, ok := decodeSA(rec.Assertion)
		matched := false
		for _, s := range app.Subjects {
			if ok && s == c.Sub {
				matched = true
			}
		}
		if !matched {
			fail(http.StatusBadRequest, "invalid_request", 700213, "No matching federated identity record found for presented assertion subject.")
			return
		}
		sub = c.Sub
	default:
		fail(http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	scope := ""
	for _, s := range strings.Fields(rec.Resource) {
		if strings.HasSuffix(s, "/.default") {
			scope = s
		}
	}
	if scope == "" {
		fail(http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope is not valid.")
		return
	}
	f.mu.Lock()
	life := f.aadLife
	f.mu.Unlock()
	tok := f.issue(claims{Aud: strings.TrimSuffix(scope, "/.default"), Tid: tenant, AppID: app.ClientID, Sub: sub}, life)
	rec.Issued, rec.Status = tok, http.StatusOK
	f.record(rec)
	secs := int64(life.Seconds())
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
}

// saClaims are what the fake reads of a service account token: its subject.
type saClaims struct {
	Sub string `json:"sub"`
}

func decodeSA(token string) (saClaims, bool) {
	var c saClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, false
	}
	b, err := decodeSegment(parts[1])
	if err != nil || jsonUnmarshal(b, &c) != nil || c.Sub == "" {
		return c, false
	}
	return c, true
}

func (f *Fake) registry(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v2/", "/v2":
		rec := &recording{Request: Request{Op: Challenge}}
		if !f.enter(w, r, rec) {
			return
		}
		rec.Status = http.StatusUnauthorized
		f.record(rec)
		host := r.Host
		w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, host, host))
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": []map[string]any{{"code": "UNAUTHORIZED", "message": "authentication required", "detail": nil}}})
	case "/oauth2/exchange":
		f.exchange(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *Fake) exchange(w http.ResponseWriter, r *http.Request) {
	rec := &recording{Request: Request{Op: Exchange}}
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	rec.GrantType, rec.Service, rec.Tenant = r.PostForm.Get("grant_type"), r.PostForm.Get("service"), r.PostForm.Get("tenant")
	if !f.enter(w, r, rec) {
		return
	}
	fail := func(status int, msg string) {
		rec.Status, rec.Reason = status, msg
		f.record(rec)
		w.Header().Set("X-Ms-Error-Code", "UNAUTHORIZED")
		writeJSON(w, status, map[string]any{"errors": []map[string]any{{"code": "UNAUTHORIZED", "message": msg}}})
	}
	if g := rec.GrantType; g != "access_token" && g != "access_token_refresh_token" {
		fail(http.StatusBadRequest, "unsupported grant_type")
		return
	}
	f.mu.Lock()
	hosted := f.registries[strings.ToLower(rec.Service)]
	c, issued := f.issued[r.PostForm.Get("access_token")]
	life := f.refreshLife
	now := f.now()
	f.mu.Unlock()
	switch {
	case !hosted:
		fail(http.StatusUnauthorized, "service not hosted here")
		return
	case !issued || c.Exp <= now.Unix():
		fail(http.StatusUnauthorized, "invalid access token")
		return
	case c.Aud != Audience:
		fail(http.StatusUnauthorized, "the access token's audience is not the registry's")
		return
	case rec.Tenant != "" && !strings.EqualFold(rec.Tenant, c.Tid):
		fail(http.StatusUnauthorized, "the access token is from another tenant")
		return
	}
	tok := f.issue(claims{Aud: rec.Service, Tid: c.Tid, AppID: c.AppID, Sub: c.Sub}, life)
	rec.Issued, rec.Status = tok, http.StatusOK
	f.record(rec)
	writeJSON(w, http.StatusOK, map[string]string{"refresh_token": tok})
}
