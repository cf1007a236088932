package harness

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	// The registry's in-memory storage and htpasswd authentication register themselves.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// RegistryOptions configures StartRegistry.
type RegistryOptions struct {
	// CA signs the registry's certificate. Nil: a new CA.
	CA *CA
	// Hosts are extra names the certificate covers, for clients that reach the registry under
	// a registry's real name (an ECR host, gcr.io) through Registry.Transport. The registry
	// always answers for 127.0.0.1 and localhost.
	Hosts []string
	// Users are the htpasswd accounts, user name to password.
	Users map[string]string
	// Anonymous turns authentication off: a public registry, pulled without credentials.
	Anonymous bool
	// Log receives the registry's own logs. Nil discards them. The distribution registry logs
	// through logrus's standard logger, so this sets that process-wide.
	Log io.Writer
	// TokenAuth switches the registry from htpasswd basic authentication to the distribution
	// registry's token authentication (auth: token): a request without a token gets a
	// 401 with a Bearer challenge naming the token endpoint, https://<Addr>/token, served by
	// the same server; it issues signed JWTs to the htpasswd users, for a Basic GET (docker,
	// go-containerregistry) or an OAuth2 password-grant POST (containerd).
	TokenAuth bool
}

// Registry is a distribution registry (github.com/distribution/distribution/v3) served in
// process over TLS on 127.0.0.1, with htpasswd basic authentication and in-memory storage.
type Registry struct {
	// Addr is the registry's host:port on loopback, e.g. 127.0.0.1:41234.
	Addr string
	// CA signed the registry's certificate.
	CA *CA

	srv      *httptest.Server
	app      *handlers.App
	tokens   *tokenIssuer // nil unless TokenAuth
	htpasswd string
	pusher   Credential

	mu       sync.Mutex
	users    map[string]string // user name to hex SHA-256 of the whole password
	requests []Request
	image    v1.Image
}

// Credential is a user name and password.
type Credential struct {
	Username string
	Password string
}

// Request is one request a loopback server of the harness saw (Registry, Recorder).
type Request struct {
	Method string
	Host   string // the Host header: the name the client asked for
	Path   string
	User   string // basic auth (or password grant) user name, "" when none
	Status int
	// Auth is the credential the request carried, if any. Its Secret prints as a mask.
	Auth Auth
}

// Auth is a credential a request carried: an Authorization header (Basic or Bearer), or the
// password of an OAuth2 password-grant form posted to a token endpoint.
type Auth struct {
	// Scheme is "Basic", "Bearer", "password-grant", another header scheme as sent, or ""
	// when the request carried no credential.
	Scheme string
	User   string
	// Secret is the password or token. It is kept to compare with, never printed.
	Secret Secret
}

// Secret is a password or token the harness recorded. It formats as a mask with fmt's
// verbs, so a test that prints a Request leaks nothing; compare it with ==.
type Secret string

// String masks the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf("<secret %d bytes>", len(s))
}

// GoString masks the secret for %#v.
func (s Secret) GoString() string { return s.String() }

// authOf reads the credential of a request: its Authorization header, else a posted
// password grant (only on a token endpoint, whose form is read by the caller).
func authOf(req *http.Request) Auth {
	h := req.Header.Get("Authorization")
	if h == "" {
		return Auth{}
	}
	if user, pass, ok := req.BasicAuth(); ok {
		return Auth{Scheme: "Basic", User: user, Secret: Secret(pass)}
	}
	scheme, rest, _ := strings.Cut(h, " ")
	if strings.EqualFold(scheme, "bearer") {
		return Auth{Scheme: "Bearer", Secret: Secret(strings.TrimSpace(rest))}
	}
	return Auth{Scheme: scheme, Secret: Secret(rest)}
}

// Carrying returns the requests of reqs whose credential's secret is secret.
func Carrying(reqs []Request, secret string) []Request {
	var out []Request
	for _, r := range reqs {
		if secret != "" && string(r.Auth.Secret) == secret {
			out = append(out, r)
		}
	}
	return out
}

// ByHost groups requests by the Host they asked for.
func ByHost(reqs []Request) map[string][]Request {
	out := map[string][]Request{}
	for _, r := range reqs {
		out[r.Host] = append(out[r.Host], r)
	}
	return out
}

// StartRegistry starts a registry. Close it when done.
func StartRegistry(ctx context.Context, opts RegistryOptions) (*Registry, error) {
	ca := opts.CA
	if ca == nil {
		var err error
		if ca, err = NewCA(); err != nil {
			return nil, err
		}
	}
	cert, err := ca.Issue(append([]string{"127.0.0.1", "localhost"}, opts.Hosts...)...)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pullkeys-e2e-registry-")
	if err != nil {
		return nil, fmt.Errorf("harness: registry: %w", err)
	}
	r := &Registry{
		CA:       ca,
		htpasswd: filepath.Join(dir, "htpasswd"),
		pusher:   Credential{Username: "e2e-pusher", Password: RandomString(24)},
		users:    map[string]string{},
	}
	users := map[string]string{r.pusher.Username: r.pusher.Password}
	for u, p := range opts.Users {
		users[u] = p
	}
	if err := r.setUsers(users); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	logOut := opts.Log
	if logOut == nil {
		logOut = io.Discard
	}
	logrus.SetOutput(logOut)

	// The listener exists before the app: token auth names it in its realm.
	r.srv = httptest.NewUnstartedServer(r.guard())
	r.Addr = r.srv.Listener.Addr().String()

	auth := configuration.Auth{
		"htpasswd": configuration.Parameters{"realm": "pullkeys-e2e", "path": r.htpasswd},
	}
	if opts.TokenAuth {
		if r.tokens, err = newTokenIssuer(dir, r); err != nil {
			r.srv.Listener.Close()
			os.RemoveAll(dir)
			return nil, err
		}
		auth = configuration.Auth{"token": configuration.Parameters{
			"realm":   "https://" + r.Addr + tokenPath,
			"service": tokenService,
			"issuer":  tokenIssuerName,
			"jwks":    r.tokens.jwksPath,
		}}
	}
	if opts.Anonymous {
		auth = nil
	}
	config := &configuration.Configuration{
		Storage: configuration.Storage{
			"inmemory": configuration.Parameters{},
			"maintenance": configuration.Parameters{
				"uploadpurging": map[any]any{"enabled": false},
			},
		},
		Auth: auth,
	}
	config.HTTP.Secret = RandomString(32)
	config.Log.AccessLog.Disabled = opts.Log == nil
	config.Log.Level = "info"
	r.app = handlers.NewApp(ctx, config)

	r.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	r.srv.Config.ErrorLog = log.New(logOut, "registry: ", 0) // TLS handshake errors of refused clients
	r.srv.StartTLS()
	return r, nil
}

// Close stops the registry and removes its files.
func (r *Registry) Close() {
	r.srv.Close()
	_ = r.app.Shutdown()
	os.RemoveAll(filepath.Dir(r.htpasswd))
}

// AddUser adds or replaces an htpasswd account. The registry re-reads the file on the next
// request.
func (r *Registry) AddUser(user, password string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writeUsersLocked(map[string]string{user: password})
}

func (r *Registry) setUsers(users map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writeUsersLocked(users)
}

// writeUsersLocked adds users and rewrites the htpasswd file; it keeps hashes, never passwords.
func (r *Registry) writeUsersLocked(add map[string]string) error {
	for u, p := range add {
		if u == "" || strings.ContainsAny(u, ":\n") {
			return fmt.Errorf("harness: htpasswd user %q: empty or holds ':' or a newline", u)
		}
		sum := sha256.Sum256([]byte(p))
		r.users[u] = hex.EncodeToString(sum[:]) + "\x00" + bcryptHash(p)
	}
	names := make([]string, 0, len(r.users))
	for u := range r.users {
		names = append(names, u)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, u := range names {
		_, hash, _ := strings.Cut(r.users[u], "\x00")
		fmt.Fprintf(&b, "%s:%s\n", u, hash)
	}
	tmp := r.htpasswd + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("harness: write htpasswd: %w", err)
	}
	if err := os.Rename(tmp, r.htpasswd); err != nil {
		return fmt.Errorf("harness: write htpasswd: %w", err)
	}
	return nil
}

// bcryptHash hashes at the lowest cost (a test registry checks every request) and, like the
// htpasswd tool, only the first 72 bytes: bcrypt reads no more. guard checks the rest.
func bcryptHash(password string) string {
	p := []byte(password)
	if len(p) > 72 {
		p = p[:72]
	}
	h, err := bcrypt.GenerateFromPassword(p, bcrypt.MinCost)
	if err != nil {
		panic(err) // only ErrPasswordTooLong, ruled out above
	}
	return string(h)
}

// checkPassword reports whether user is known and password is theirs, whole (bcrypt, in the
// htpasswd file, reads 72 bytes only).
func (r *Registry) checkPassword(user, password string) (known, ok bool) {
	r.mu.Lock()
	want, known := r.users[user]
	r.mu.Unlock()
	if !known {
		return false, false
	}
	sum := sha256.Sum256([]byte(password))
	got := hex.EncodeToString(sum[:])
	return true, subtle.ConstantTimeCompare([]byte(got), []byte(want[:len(got)])) == 1
}

// guard records each request with the credential it carried, serves the token endpoint when
// the registry uses token authentication, and rejects a known user whose password differs
// from the one set beyond the 72 bytes bcrypt reads (cloud registry tokens are much longer).
// Everything else is the registry's own authentication.
func (r *Registry) guard() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		seen := authOf(req)
		user, pass, ok := req.BasicAuth()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			r.mu.Lock()
			r.requests = append(r.requests, Request{Method: req.Method, Host: req.Host, Path: req.URL.Path, User: seen.User, Status: rec.status, Auth: seen})
			r.mu.Unlock()
		}()
		if r.tokens != nil && req.URL.Path == tokenPath {
			seen = r.tokens.serve(rec, req)
			return
		}
		if ok {
			if known, good := r.checkPassword(user, pass); known && !good {
				rec.Header().Set("WWW-Authenticate", `Basic realm="pullkeys-e2e"`)
				rec.Header().Set("Content-Type", "application/json")
				rec.WriteHeader(http.StatusUnauthorized)
				io.WriteString(rec, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`+"\n")
				return
			}
		}
		r.app.ServeHTTP(rec, req)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status  int
	written bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.written {
		s.status, s.written = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.written = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Requests returns the requests seen so far, oldest first.
func (r *Registry) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Transport is an HTTP transport for clients of the registry: it trusts the CA and dials the
// registry for every host name and port, so an image named after a real registry
// (123456789012.dkr.ecr.us-east-1.amazonaws.com/app) is pulled from this loopback registry
// without any DNS lookup. The host name must be one of RegistryOptions.Hosts for TLS.
func (r *Registry) Transport() *http.Transport {
	d := &net.Dialer{}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", r.Addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: r.CA.Pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
	}
}

// Image returns the image Push writes: random, two small layers, made once per registry.
func (r *Registry) Image() (v1.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.image == nil {
		img, err := random.Image(512, 2)
		if err != nil {
			return nil, fmt.Errorf("harness: random image: %w", err)
		}
		r.image = img
	}
	return r.image, nil
}

// Push writes Image to repo:tag on this registry (as a user of its own) and returns its digest.
// repo is the path without a host, e.g. "team/app".
func (r *Registry) Push(ctx context.Context, repo, tag string) (v1.Hash, error) {
	img, err := r.Image()
	if err != nil {
		return v1.Hash{}, err
	}
	return r.PushImage(ctx, repo, tag, img)
}

// PushImage writes img to repo:tag on this registry (as a user of its own) and returns its
// digest: for an image that must run (a node suite's busybox image), where Push's random
// layers would not.
func (r *Registry) PushImage(ctx context.Context, repo, tag string, img v1.Image) (v1.Hash, error) {
	ref, err := name.NewTag(r.Addr + "/" + repo + ":" + tag)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("harness: push %s:%s: %w", repo, tag, err)
	}
	if err := remote.Write(ref, img,
		remote.WithContext(ctx),
		remote.WithTransport(r.Transport()),
		remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: r.pusher.Username, Password: r.pusher.Password})),
	); err != nil {
		return v1.Hash{}, fmt.Errorf("harness: push %s: %w", ref, err)
	}
	return img.Digest()
}

// RandomString returns n random characters from [a-zA-Z0-9].
func RandomString(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
