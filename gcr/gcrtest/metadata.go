package gcrtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Scopes a node service account commonly has.
const (
	ScopeCloudPlatform       = "https://www.googleapis.com/auth/cloud-platform"
	ScopeDevstorageReadOnly  = "https://www.googleapis.com/auth/devstorage.read_only"
	ScopeDevstorageReadWrite = "https://www.googleapis.com/auth/devstorage.read_write"
	ScopeLoggingWrite        = "https://www.googleapis.com/auth/logging.write"
	ScopeMonitoring          = "https://www.googleapis.com/auth/monitoring"
)

// Defaults of a new Metadata fake.
const (
	DefaultEmail     = "node@fake-project.iam.gserviceaccount.com"
	DefaultExpiresIn = 3599 * time.Second
	ProjectID        = "fake-project"
	NumericProjectID = "123456789012"
)

// TokenPath is the path of account's token, relative to /computeMetadata/v1/ as Calls and
// Fail take paths.
func TokenPath(account string) string { return "instance/service-accounts/" + account + "/token" }

// ScopesPath is the path of account's scopes, relative to /computeMetadata/v1/.
func ScopesPath(account string) string { return "instance/service-accounts/" + account + "/scopes" }

// EmailPath is the path of account's email, relative to /computeMetadata/v1/.
func EmailPath(account string) string { return "instance/service-accounts/" + account + "/email" }

// AttributePath is the path of the instance attribute name, relative to /computeMetadata/v1/.
func AttributePath(name string) string { return "instance/attributes/" + name }

// Account is a service account of the fake instance.
type Account struct {
	// Email is the account's address; the account is also served under it.
	Email string
	// Scopes are the OAuth scopes of the instance for this account, served newline-separated.
	Scopes []string
	// Token, when set, is served by every token request. When empty, each request gets a new
	// token ("ya29.fake-<n>"), so a test can tell a cached token from a fetched one.
	Token string
	// ExpiresIn is the token's remaining lifetime, whole seconds on the wire.
	ExpiresIn time.Duration
}

// Metadata is a fake GCE metadata server. Like the real one it answers only requests that carry
// "Metadata-Flavor: Google" (403 otherwise) and puts that header on every answer. It serves
//
//	/computeMetadata/v1/instance/service-accounts/<account>/token  {"access_token","expires_in","token_type"}
//	/computeMetadata/v1/instance/service-accounts/<account>/scopes newline-separated scopes
//	/computeMetadata/v1/instance/service-accounts/<account>/email
//	/computeMetadata/v1/instance/attributes/<name>                 404 when unset
//	/computeMetadata/v1/project/project-id, project/numeric-project-id
//
// where <account> is "default" or an account's email. A new Metadata has the default account
// DefaultEmail with the cloud-platform scope and no attributes.
type Metadata struct {
	srv *httptest.Server
	*behaviour

	mu       sync.Mutex
	accounts map[string]*Account
	attrs    map[string]string
	issued   []string
}

// NewMetadata starts a fake metadata server on 127.0.0.1. Close it when done.
func NewMetadata() *Metadata {
	m := &Metadata{
		behaviour: newBehaviour(),
		accounts:  make(map[string]*Account),
		attrs:     make(map[string]string),
	}
	m.SetAccount("default", Account{Email: DefaultEmail, Scopes: []string{ScopeCloudPlatform}})
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	return m
}

// Host returns host:port of the server, the value for GCE_METADATA_HOST.
func (m *Metadata) Host() string { return strings.TrimPrefix(m.srv.URL, "http://") }

// URL returns the server's base URL, "http://127.0.0.1:<port>".
func (m *Metadata) URL() string { return m.srv.URL }

// Close shuts the server down, releasing requests held by an injected latency.
func (m *Metadata) Close() {
	m.behaviour.close()
	m.srv.Close()
}

// SetAccount serves a under name ("default" or any alias) and under a.Email. A zero ExpiresIn
// means DefaultExpiresIn.
func (m *Metadata) SetAccount(name string, a Account) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a.ExpiresIn == 0 {
		a.ExpiresIn = DefaultExpiresIn
	}
	a.Scopes = append([]string(nil), a.Scopes...)
	m.accounts[name] = &a
	if a.Email != "" {
		m.accounts[a.Email] = &a
	}
}

// SetScopes replaces the scopes of the account served under name (and its other name).
func (m *Metadata) SetScopes(name string, scopes ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.accounts[name]; a != nil {
		a.Scopes = append([]string(nil), scopes...)
	}
}

// SetAttribute sets the instance attribute name (google-dockercfg, google-dockercfg-url …).
func (m *Metadata) SetAttribute(name, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attrs[name] = value
}

// DeleteAttribute removes the instance attribute name: it is then answered with 404.
func (m *Metadata) DeleteAttribute(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.attrs, name)
}

// SetLatency delays every answer by d (0 for none). A delayed request ends early when its
// client goes away or the server closes.
func (m *Metadata) SetLatency(d time.Duration) { m.setLatency(d) }

// Fail answers the next times requests for path (relative, as TokenPath returns; "" for every
// path) with the HTTP status, then behaves again. times < 0 fails forever, 0 clears the fault.
func (m *Metadata) Fail(path string, status, times int) { m.fail(path, status, times) }

// Calls returns how many requests reached path (relative, as TokenPath returns), including
// refused and failed ones.
func (m *Metadata) Calls(path string) int { return m.count(path) }

// TotalCalls returns how many requests reached the server.
func (m *Metadata) TotalCalls() int { return m.totalCalls() }

// Issued returns the tokens served so far, oldest first.
func (m *Metadata) Issued() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.issued...)
}

const metadataPrefix = "/computeMetadata/v1/"

func (m *Metadata) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Metadata-Flavor", "Google")
	if r.URL.Path == "/" {
		// The probe of metadata.OnGCE: an empty answer with the header.
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, metadataPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if !m.enter(w, r, path) {
		return
	}
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "Missing required header \"Metadata-Flavor\": \"Google\"", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case path == "project/project-id":
		fmt.Fprint(w, ProjectID)
	case path == "project/numeric-project-id":
		fmt.Fprint(w, NumericProjectID)
	case strings.HasPrefix(path, "instance/attributes/"):
		v, ok := m.attrs[strings.TrimPrefix(path, "instance/attributes/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/text")
		fmt.Fprint(w, v)
	case strings.HasPrefix(path, "instance/service-accounts/"):
		name, leaf, _ := strings.Cut(strings.TrimPrefix(path, "instance/service-accounts/"), "/")
		a := m.accounts[name]
		if a == nil {
			http.NotFound(w, r)
			return
		}
		switch leaf {
		case "token":
			tok := a.Token
			if tok == "" {
				tok = fmt.Sprintf("ya29.fake-%d", len(m.issued)+1)
			}
			m.issued = append(m.issued, tok)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{
				"access_token": tok,
				"expires_in":   int64(a.ExpiresIn / time.Second),
				"token_type":   "Bearer",
			})
		case "scopes":
			for _, s := range a.Scopes {
				fmt.Fprintln(w, s)
			}
		case "email":
			fmt.Fprint(w, a.Email)
		default:
			http.NotFound(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}
