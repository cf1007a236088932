package acrtest

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Audience is the registry audience; ARMAudience is Azure Resource Manager's, whose tokens
// the fake registry refuses, as registries with ARM authentication turned off do.
const (
	Audience    = "https://containerregistry.azure.net"
	ARMAudience = "https://management.azure.com"
)

// Defaults of a new fake.
const (
	// LoginServer is the registry the fake hosts unless AddRegistry adds others.
	LoginServer = "pullkeystest.azurecr.io"
	// Tenant is the tenant of the fake's managed identities.
	Tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	// SystemAssignedID is the client ID of the VM's system-assigned identity.
	SystemAssignedID = "11111111-1111-1111-1111-111111111111"
	// UserAssignedID is the client ID of the VM's user-assigned identity.
	UserAssignedID = "22222222-2222-2222-2222-222222222222"
	// AADTokenLifetime and RefreshTokenLifetime are the lifetimes of issued tokens unless
	// SetLifetimes changes them.
	AADTokenLifetime     = 24 * time.Hour
	RefreshTokenLifetime = 3 * time.Hour
)

// Op names an operation of the fake, for Counts, Fail, Block and Requests.
type Op string

// The operations.
const (
	IMDSToken Op = "imds-token"
	Discovery Op = "aad-discovery"
	AADToken  Op = "aad-token"
	Exchange  Op = "exchange"
	Challenge Op = "challenge"
)

// App is an AAD application (a service principal) of the fake.
type App struct {
	ClientID string
	Tenant   string
	// Secret is its client secret; "" refuses secrets.
	Secret string
	// Subjects are the subjects (system:serviceaccount:<ns>:<name>) of the federated
	// credentials that let a service account token be its client assertion.
	Subjects []string
}

// Request is one call the fake answered, as the client sent it. Secrets are recorded so tests
// can check what was sent; never print them.
type Request struct {
	Op        Op
	Tenant    string // AAD: the path's tenant; exchange: the form's
	ClientID  string // AAD and IMDS
	Resource  string // IMDS resource, AAD scope
	GrantType string
	Assertion string // AAD client assertion
	Service   string // exchange
	Issued    string // the token issued, "" on failure
	Reason    string // why the fake refused it
	Status    int
}

// Fake is the three servers. Start one with Start.
type Fake struct {
	IMDS, AAD, Registry *httptest.Server
	// RegistryHTTP serves the registry without TLS, for an exchange endpoint on loopback
	// that needs no certificate (tests in one process, where SSL_CERT_FILE comes too late).
	RegistryHTTP *httptest.Server
	certFile     string

	mu          sync.Mutex
	apps        map[string]App
	system      bool
	userIDs     map[string]bool
	registries  map[string]bool
	issued      map[string]claims // access tokens issued by the fake
	faults      map[Op]*fault
	blocks      map[Op]chan struct{}
	requests    []Request
	n           int
	aadLife     time.Duration
	refreshLife time.Duration
	now         func() time.Time
	hosts       []string
}

type fault struct {
	status int
	body   string
	times  int // < 0: for good
}

type claims struct {
	Aud   string `json:"aud"`
	Tid   string `json:"tid"`
	AppID string `json:"appid"`
	Sub   string `json:"sub,omitempty"`
	Exp   int64  `json:"exp"`
	N     int    `json:"n"`
}

// Start starts a fake with the system-assigned and one user-assigned identity, hosting
// LoginServer, closed when t ends.
func Start(t testing.TB) *Fake {
	t.Helper()
	f := New()
	t.Cleanup(f.Close)
	return f
}

// New starts a fake outside a test; Close it.
func New() *Fake {
	f := &Fake{
		apps:        make(map[string]App),
		system:      true,
		userIDs:     map[string]bool{UserAssignedID: true},
		registries:  map[string]bool{LoginServer: true},
		issued:      make(map[string]claims),
		faults:      make(map[Op]*fault),
		blocks:      make(map[Op]chan struct{}),
		aadLife:     AADTokenLifetime,
		refreshLife: RefreshTokenLifetime,
		now:         time.Now,
	}
	f.IMDS = httptest.NewServer(http.HandlerFunc(f.imds))
	f.AAD = httptest.NewTLSServer(http.HandlerFunc(f.aad))
	f.Registry = httptest.NewTLSServer(http.HandlerFunc(f.registry))
	f.RegistryHTTP = httptest.NewServer(http.HandlerFunc(f.registry))
	return f
}

// Close stops the servers and releases blocked calls.
func (f *Fake) Close() {
	f.mu.Lock()
	for op, ch := range f.blocks {
		close(ch)
		delete(f.blocks, op)
	}
	f.mu.Unlock()
	f.IMDS.Close()
	f.AAD.Close()
	f.Registry.Close()
	f.RegistryHTTP.Close()
	if f.certFile != "" {
		os.RemoveAll(filepath.Dir(f.certFile))
	}
}

// IMDSURL, AADURL and RegistryURL are the servers' base URLs: the provider's IMDSEndpoint,
// AuthorityHost and ExchangeEndpoint.
func (f *Fake) IMDSURL() string     { return f.IMDS.URL }
func (f *Fake) AADURL() string      { return f.AAD.URL + "/" }
func (f *Fake) RegistryURL() string { return f.Registry.URL }

// Client returns an HTTP client that trusts the fake's TLS certificate.
func (f *Fake) Client() *http.Client { return f.AAD.Client() }

// CertFile writes the fake's TLS certificate to a PEM file (once) and returns its path, for
// SSL_CERT_FILE.
func (f *Fake) CertFile() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.certFile != "" {
		return f.certFile, nil
	}
	dir, err := os.MkdirTemp("", "acrtest-")
	if err != nil {
		return "", err
	}
	var pemData []byte
	for _, c := range []*x509.Certificate{f.AAD.Certificate(), f.Registry.Certificate()} {
		pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	name := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(name, pemData, 0o600); err != nil {
		return "", err
	}
	f.certFile = name
	return name, nil
}

// Env returns the environment that points a plugin binary at the fake: SSL_CERT_FILE for its
// certificate, and the IMDS and AAD endpoint variables the provider reads.
func (f *Fake) Env() ([]string, error) {
	cert, err := f.CertFile()
	if err != nil {
		return nil, err
	}
	return []string{"SSL_CERT_FILE=" + cert, "AZURE_POD_IDENTITY_AUTHORITY_HOST=" + f.IMDSURL(), "AZURE_AUTHORITY_HOST=" + f.AADURL()}, nil
}

// Args returns the flags that point a plugin binary's token exchange at the fake registry.
func (f *Fake) Args() []string { return []string{"--exchange-endpoint=" + f.RegistryURL()} }

// AddApp adds (or replaces) an AAD application.
func (f *Fake) AddApp(a App) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apps[strings.ToLower(a.ClientID)] = a
}

// AddRegistry makes the fake host a further login server.
func (f *Fake) AddRegistry(loginServer string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registries[strings.ToLower(loginServer)] = true
}

// SetManagedIdentities sets the VM's identities: whether it has a system-assigned one, and
// the client IDs of its user-assigned ones.
func (f *Fake) SetManagedIdentities(system bool, userAssigned ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.system = system
	f.userIDs = make(map[string]bool)
	for _, id := range userAssigned {
		f.userIDs[strings.ToLower(id)] = true
	}
}

// SetLifetimes sets the lifetimes of AAD (and IMDS) tokens and of refresh tokens.
func (f *Fake) SetLifetimes(aad, refresh time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aadLife, f.refreshLife = aad, refresh
}

// SetNow sets the fake's clock, which stamps token expiries.
func (f *Fake) SetNow(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// Fail makes the next times calls of op answer status with body (for good when times < 0; 0
// clears).
func (f *Fake) Fail(op Op, status int, body string, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if times == 0 {
		delete(f.faults, op)
		return
	}
	f.faults[op] = &fault{status: status, body: body, times: times}
}

// Block holds every call of op until the client gives up or Unblock (a slow endpoint).
func (f *Fake) Block(op Op) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.blocks[op] == nil {
		f.blocks[op] = make(chan struct{})
	}
}

// Unblock releases the calls held by Block.
func (f *Fake) Unblock(op Op) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch := f.blocks[op]; ch != nil {
		close(ch)
		delete(f.blocks, op)
	}
}

// Counts returns how many calls of op the fake received (injected failures included).
func (f *Fake) Counts(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r.Op == op {
			n++
		}
	}
	return n
}

// Requests returns the calls of op, oldest first.
func (f *Fake) Requests(op Op) []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Request
	for _, r := range f.requests {
		if r.Op == op {
			out = append(out, r)
		}
	}
	return out
}

// Claims decodes a token the fake issued: who it was for, and its audience.
func Claims(token string) (aud, tenant, clientID string, exp time.Time, ok bool) {
	c, ok := decode(token)
	return c.Aud, c.Tid, c.AppID, time.Unix(c.Exp, 0), ok
}

// enter records a call and applies injected behaviour; false means it has been answered.
func (f *Fake) enter(w http.ResponseWriter, r *http.Request, rec *recording) bool {
	f.mu.Lock()
	f.requests = append(f.requests, Request{Op: rec.Op})
	idx := len(f.requests) - 1
	block := f.blocks[rec.Op]
	ft := f.faults[rec.Op]
	if ft != nil && ft.times > 0 {
		ft.times--
		if ft.times == 0 {
			delete(f.faults, rec.Op)
		}
	}
	f.mu.Unlock()
	rec.idx = idx
	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
			return false
		}
	}
	if ft != nil {
		rec.Status = ft.status
		f.record(rec)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ft.status)
		fmt.Fprint(w, ft.body)
		return false
	}
	return true
}

func (f *Fake) record(rec *recording) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[rec.idx] = rec.Request
}

// recording is a Request being answered.
type recording struct {
	Request
	idx int
}

func (f *Fake) issue(c claims, life time.Duration) string {
	f.mu.Lock()
	f.n++
	c.N = f.n
	c.Exp = f.now().Add(life).Unix()
	f.mu.Unlock()
	body, _ := json.Marshal(c)
	enc := base64.RawURLEncoding.EncodeToString
	tok := enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(body) + "." + enc([]byte("fake-signature-"+strconv.Itoa(c.N)))
	f.mu.Lock()
	f.issued[tok] = c
	f.mu.Unlock()
	return tok
}

func decode(token string) (claims, bool) {
	var c claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, &c) != nil {
		return c, false
	}
	return c, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
