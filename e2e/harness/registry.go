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
	// Log receives the registry's own logs. Nil discards them. The distribution registry logs
	// through logrus's standard logger, so this sets that process-wide.
	Log io.Writer
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

// Request is one request the registry saw: never the password.
type Request struct {
	Method string
	Host   string
	Path   string
	User   string // basic auth user name, "" when anonymous
	Status int
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

	config := &configuration.Configuration{
		Storage: configuration.Storage{
			"inmemory": configuration.Parameters{},
			"maintenance": configuration.Parameters{
				"uploadpurging": map[any]any{"enabled": false},
			},
		},
		Auth: configuration.Auth{
			"htpasswd": configuration.Parameters{"realm": "pullkeys-e2e", "path": r.htpasswd},
		},
	}
	config.HTTP.Secret = RandomString(32)
	config.Log.AccessLog.Disabled = opts.Log == nil
	config.Log.Level = "info"
	r.app = handlers.NewApp(ctx, config)

	r.srv = httptest.NewUnstartedServer(r.guard(r.app))
	r.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	r.srv.Config.ErrorLog = log.New(logOut, "registry: ", 0) // TLS handshake errors of refused clients
	r.srv.StartTLS()
	r.Addr = r.srv.Listener.Addr().String()
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

// guard records each request and rejects a known user whose password differs from the one
// set beyond the 72 bytes bcrypt reads (cloud registry tokens are much longer). Everything
// else is the registry's own htpasswd check.
func (r *Registry) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		user, pass, ok := req.BasicAuth()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			r.mu.Lock()
			r.requests = append(r.requests, Request{Method: req.Method, Host: req.Host, Path: req.URL.Path, User: user, Status: rec.status})
			r.mu.Unlock()
		}()
		if ok {
			r.mu.Lock()
			want, known := r.users[user]
			r.mu.Unlock()
			sum := sha256.Sum256([]byte(pass))
			got := hex.EncodeToString(sum[:])
			if known && subtle.ConstantTimeCompare([]byte(got), []byte(want[:len(got)])) != 1 {
				rec.Header().Set("WWW-Authenticate", `Basic realm="pullkeys-e2e"`)
				rec.Header().Set("Content-Type", "application/json")
				rec.WriteHeader(http.StatusUnauthorized)
				io.WriteString(rec, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`+"\n")
				return
			}
		}
		next.ServeHTTP(rec, req)
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
