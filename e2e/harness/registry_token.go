package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/distribution/distribution/v3/registry/auth/token"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The token endpoint of a registry with RegistryOptions.TokenAuth, on the registry's own
// address; the service and issuer names its tokens carry and the registry checks.
const (
	tokenPath       = "/token"
	tokenService    = "pullkeys-e2e-registry"
	tokenIssuerName = "pullkeys-e2e-token-server"
	tokenLifetime   = 5 * time.Minute
)

// tokenIssuer is the token server of the distribution registry's token authentication
// (the docker registry v2 token protocol): it checks the registry's htpasswd users and signs
// a JWT granting the scopes asked for, which the registry verifies with the JWKS file.
type tokenIssuer struct {
	reg      *Registry
	key      *ecdsa.PrivateKey
	kid      string
	jwksPath string
}

func newTokenIssuer(dir string, reg *Registry) (*tokenIssuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("harness: token key: %w", err)
	}
	t := &tokenIssuer{reg: reg, key: key, kid: "e2e-" + RandomString(12), jwksPath: filepath.Join(dir, "jwks.json")}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: t.kid, Algorithm: string(jose.ES256), Use: "sig"}}}
	data, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("harness: token jwks: %w", err)
	}
	if err := os.WriteFile(t.jwksPath, data, 0o600); err != nil {
		return nil, fmt.Errorf("harness: token jwks: %w", err)
	}
	return t, nil
}

// serve answers a token request and returns the credential it carried. GET with Basic auth
// (docker, go-containerregistry) and POST of an OAuth2 password grant (containerd, when it
// has a password) are accepted; anything without a valid user and password gets a 401.
func (t *tokenIssuer) serve(w http.ResponseWriter, req *http.Request) Auth {
	var (
		seen   = authOf(req)
		scopes []string
		user   string
		pass   string
		ok     bool
	)
	switch req.Method {
	case http.MethodGet:
		user, pass, ok = req.BasicAuth()
		scopes = req.URL.Query()["scope"]
	case http.MethodPost:
		if err := req.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return seen
		}
		if req.PostForm.Get("grant_type") != "password" {
			// A refresh token would be the only other grant; this server issues none.
			http.Error(w, "unsupported grant_type", http.StatusBadRequest)
			return seen
		}
		user, pass, ok = req.PostForm.Get("username"), req.PostForm.Get("password"), true
		seen = Auth{Scheme: "password-grant", User: user, Secret: Secret(pass)}
		scopes = strings.Fields(req.PostForm.Get("scope"))
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return seen
	}
	if !ok || user == "" {
		unauthorized(w)
		return seen
	}
	if _, good := t.reg.checkPassword(user, pass); !good {
		unauthorized(w)
		return seen
	}
	now := time.Now()
	claims := token.ClaimSet{
		Issuer:     tokenIssuerName,
		Subject:    user,
		Audience:   token.AudienceList{tokenService},
		Expiration: now.Add(tokenLifetime).Unix(),
		NotBefore:  now.Add(-time.Minute).Unix(),
		IssuedAt:   now.Unix(),
		JWTID:      RandomString(16),
		Access:     grants(scopes),
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: t.key, KeyID: t.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		http.Error(w, "signer", http.StatusInternalServerError)
		return seen
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		http.Error(w, "sign", http.StatusInternalServerError)
		return seen
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token": raw, "access_token": raw, "expires_in": int(tokenLifetime.Seconds()), "issued_at": now.UTC().Format(time.RFC3339),
	})
	return seen
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="pullkeys-e2e-token"`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}` + "\n"))
}

// grants turns scopes ("repository:team/app:pull,push") into the access claims: every
// authenticated user gets what it asks for; the registry's users are its only principals.
func grants(scopes []string) []*token.ResourceActions {
	var out []*token.ResourceActions
	for _, s := range scopes {
		typ, rest, ok := strings.Cut(s, ":")
		if !ok {
			continue
		}
		i := strings.LastIndex(rest, ":")
		if i < 0 {
			continue
		}
		out = append(out, &token.ResourceActions{Type: typ, Name: rest[:i], Actions: strings.Split(rest[i+1:], ",")})
	}
	return out
}
