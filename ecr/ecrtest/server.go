package ecrtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Op names an operation the fake serves.
type Op string

// The operations of the fake.
const (
	// GetAuthorizationToken is ECR's (AWS JSON 1.1,
	// X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken).
	GetAuthorizationToken Op = "ecr:GetAuthorizationToken"
	// PublicGetAuthorizationToken is ECR Public's (AWS JSON 1.1,
	// X-Amz-Target: SpencerFrontendService.GetAuthorizationToken).
	PublicGetAuthorizationToken Op = "ecr-public:GetAuthorizationToken"
	// AssumeRoleWithWebIdentity is STS's (AWS query protocol: form POST, XML answer).
	AssumeRoleWithWebIdentity Op = "sts:AssumeRoleWithWebIdentity"
)

// Ops lists every operation.
func Ops() []Op {
	return []Op{GetAuthorizationToken, PublicGetAuthorizationToken, AssumeRoleWithWebIdentity}
}

// Fault is an answer injected in place of a good one.
type Fault string

// The faults the fake can inject.
const (
	// Throttle answers 400 ThrottlingException (STS: Throttling), which the SDK retries.
	Throttle Fault = "throttle"
	// ServerError answers 500 (ServerException, STS: InternalFailure), which the SDK retries.
	ServerError Fault = "server-error"
	// AccessDenied answers 400 AccessDeniedException (STS: 403 AccessDenied), not retried.
	AccessDenied Fault = "access-denied"
	// Malformed answers 200 with a body that is neither JSON nor XML.
	Malformed Fault = "malformed"
	// WrongType answers 200 with a JSON or XML document whose fields have the wrong types
	// (a string expiry holding the token): the SDK's decoder fails on it.
	WrongType Fault = "wrong-type"
	// UndecodableToken answers 200 with an authorization token that is not base64
	// "user:password" (ECR and ECR Public only).
	UndecodableToken Fault = "undecodable-token"
	// NoAuthorizationData answers 200 without authorization data (STS: without credentials).
	NoAuthorizationData Fault = "no-authorization-data"
)

// Faults lists every fault.
func Faults() []Fault {
	return []Fault{Throttle, ServerError, AccessDenied, Malformed, WrongType, UndecodableToken, NoAuthorizationData}
}

// Static credentials for the node, set by Env and Setenv.
const (
	NodeAccessKeyID     = "AKIAFAKENODE00000000"
	NodeSecretAccessKey = "fake-node-secret-access-key"
	// DefaultAccount is the registry the fake issues a token for when no registry ID is asked.
	DefaultAccount = "111122223333"
)

// Defaults of the zero Options fields.
const (
	DefaultTokenLifetime   = 12 * time.Hour
	DefaultSessionLifetime = time.Hour
)

// Options configures a Server.
type Options struct {
	// Addr is the address to listen on; "" means 127.0.0.1:0. It must be a loopback address.
	Addr string
	// Now is the fake's clock, for expiresAt and session expirations; nil means time.Now.
	Now func() time.Time
	// TokenLifetime is the lifetime of the ECR tokens issued; 0 means DefaultTokenLifetime.
	// A token issued to assumed-role credentials also ends when their session ends (a modelling
	// choice that gives tests a second lifetime to see).
	TokenLifetime time.Duration
	// SessionLifetime is the lifetime of STS sessions; 0 means DefaultSessionLifetime.
	SessionLifetime time.Duration
}

// Request is one call the fake received, with what it answered.
type Request struct {
	Op   Op     `json:"op"`
	Host string `json:"host"` // the Host header: the endpoint the client resolved
	// SigV4 credential scope; empty for an unsigned request (AssumeRoleWithWebIdentity).
	AccessKeyID string `json:"accessKeyID,omitempty"`
	Region      string `json:"region,omitempty"`
	Service     string `json:"service,omitempty"`
	// ECR: the registryIds asked for.
	RegistryIDs []string `json:"registryIDs,omitempty"`
	// STS: the role, session name and web identity token.
	RoleARN          string `json:"roleARN,omitempty"`
	RoleSessionName  string `json:"roleSessionName,omitempty"`
	WebIdentityToken string `json:"webIdentityToken,omitempty"`
	// What was answered: the fault injected, or the password (ECR, ECR Public) or access key
	// ID (STS) issued and when it expires.
	Fault       Fault     `json:"fault,omitempty"`
	Password    string    `json:"password,omitempty"`
	IssuedKeyID string    `json:"issuedKeyID,omitempty"`
	ExpiresAt   time.Time `json:"expiresAt,omitzero"`
}

type injection struct {
	fault Fault
	n     int // remaining; < 0 forever
}

// Server is a fake of ECR, ECR Public and STS on one loopback HTTP server, speaking the wire
// protocols the real SDK clients speak. Point the SDK at it with Env or Setenv. All methods
// are safe for concurrent use.
type Server struct {
	srv *http.Server
	ln  net.Listener
	url string

	now     func() time.Time
	mu      sync.Mutex
	faults  map[Op][]injection
	latency time.Duration
	tokenLT time.Duration
	session time.Duration
	pwLen   int
	seq     int
	reqs    []Request
	issued  map[string]time.Time // session access key ID -> expiry
	bucket  *bucket              // GetAuthorizationToken's rate limit; nil for none
	gate    *gate                // holds the first token calls; nil for none
}

// NewServer starts a fake on opts.Addr. Close it when done.
func NewServer(opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ecrtest: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("ecrtest: listen address %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ecrtest: %w", err)
	}
	s := newServer(opts)
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

func newServer(opts Options) *Server {
	s := &Server{
		now:     opts.Now,
		faults:  make(map[Op][]injection),
		tokenLT: opts.TokenLifetime,
		session: opts.SessionLifetime,
		issued:  make(map[string]time.Time),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tokenLT <= 0 {
		s.tokenLT = DefaultTokenLifetime
	}
	if s.session <= 0 {
		s.session = DefaultSessionLifetime
	}
	return s
}

// NewHandler returns the fake as an http.Handler without a listener, for a caller that serves
// it itself (over TLS, say). URL, Env and Setenv are not usable on it.
func NewHandler(opts Options) *Server { return newServer(opts) }

// Start starts a fake with default options for the test and closes it at the end.
func Start(tb testing.TB) *Server { return StartWith(tb, Options{}) }

// StartWith starts a fake with opts for the test and closes it at the end.
func StartWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := NewServer(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// URL returns the fake's base URL, http://127.0.0.1:<port>.
func (s *Server) URL() string { return s.url }

// Close stops the server and the requests in flight.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// Env returns the environment, as NAME=value, that points the AWS SDK of a child process at
// the fake with static node credentials and IMDS disabled: the SDK's service-specific endpoint
// variables AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_ECR_PUBLIC and AWS_ENDPOINT_URL_STS,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_EC2_METADATA_DISABLED=true.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_ECR=" + s.url,
		"AWS_ENDPOINT_URL_ECR_PUBLIC=" + s.url,
		"AWS_ENDPOINT_URL_STS=" + s.url,
		"AWS_ACCESS_KEY_ID=" + NodeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + NodeSecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// isolatedEnv are the variables Setenv empties so that the developer's own AWS setup cannot
// leak into a test.
var isolatedEnv = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_USE_FIPS_ENDPOINT",
	"AWS_USE_DUALSTACK_ENDPOINT", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_ECR_ROLE_ARN", "AWS_CA_BUNDLE",
}

// Setenv points the test process's AWS SDK at the fake (see Env) and isolates it from the
// developer's AWS setup: shared config and credentials files in a fresh temporary directory,
// profile, region, role, container and endpoint variables emptied. It uses t.Setenv, so the
// test must not be parallel.
func (s *Server) Setenv(t testing.TB) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, name := range isolatedEnv {
		t.Setenv(name, "")
	}
	for _, kv := range s.Env() {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
}

// Inject makes the next n calls of op answer f (n < 0: every call until Reset). Injections
// queue up: Inject(op, Throttle, 2) then Inject(op, ServerError, 1) answers two throttles,
// then a 500, then good answers.
func (s *Server) Inject(op Op, f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n != 0 {
		s.faults[op] = append(s.faults[op], injection{f, n})
	}
}

// SetLatency delays every answer by d (or until the client gives up).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetTokenLifetime sets the lifetime of the tokens issued from now on.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenLT = d
}

// SetPasswordLength pads the passwords issued from now on to n characters (ECR's are about
// 2 KiB; the default ones are short).
func (s *Server) SetPasswordLength(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pwLen = n
}

// Reset forgets the requests received and clears faults, latency, the bucket and the gate
// (releasing the calls it holds).
func (s *Server) Reset() {
	s.SetGate(0)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
	s.faults = make(map[Op][]injection)
	s.latency = 0
	s.bucket = nil
}

// Calls returns how many calls of op were received, faults included.
func (s *Server) Calls(op Op) int {
	return len(s.Requests(op))
}

// Requests returns the calls of op received so far, in order ("" for every operation).
func (s *Server) Requests(op Op) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.reqs {
		if op == "" || r.Op == op {
			r.RegistryIDs = append([]string(nil), r.RegistryIDs...)
			out = append(out, r)
		}
	}
	return out
}

// ServeHTTP dispatches on the protocol: X-Amz-Target for the JSON services, the form's
// Action for STS, and /_fake/ for the control API (see ControlHandler).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		s.control(w, r)
		return
	}
	if !s.wait(r.Context()) {
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	switch target := r.Header.Get("X-Amz-Target"); target {
	case "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken":
		s.serveECR(w, r, body, GetAuthorizationToken)
	case "SpencerFrontendService.GetAuthorizationToken":
		s.serveECR(w, r, body, PublicGetAuthorizationToken)
	case "":
		s.serveSTS(w, r, body)
	default:
		jsonError(w, http.StatusBadRequest, "UnknownOperationException", "unknown operation "+target)
	}
}

// wait applies the latency; false when the client went away first.
func (s *Server) wait(ctx context.Context) bool {
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// begin records a request and returns the fault to answer, if any, and the request's index.
func (s *Server) begin(req Request) (Fault, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.faults[req.Op]; len(q) > 0 {
		req.Fault = q[0].fault
		if q[0].n > 0 {
			q[0].n--
			if q[0].n == 0 {
				s.faults[req.Op] = q[1:]
			}
		}
	} else if s.bucket != nil && req.Op != AssumeRoleWithWebIdentity && !s.bucket.take(s.now()) {
		req.Fault = Throttle
	}
	s.reqs = append(s.reqs, req)
	return req.Fault, len(s.reqs) - 1
}

func (s *Server) update(i int, f func(*Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.reqs[i])
}

// sigV4 reads the credential scope of a SigV4 Authorization header:
// AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, ...
func sigV4(h string) (key, region, service string, ok bool) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", "", "", false
	}
	for _, field := range strings.Split(rest, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(field), "Credential="); ok {
			p := strings.Split(v, "/")
			if len(p) == 5 && p[4] == "aws4_request" {
				return p[0], p[2], p[3], true
			}
		}
	}
	return "", "", "", false
}

func (s *Server) serveECR(w http.ResponseWriter, r *http.Request, body []byte, op Op) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		jsonError(w, http.StatusBadRequest, "SerializationException", "Content-Type must be application/x-amz-json-1.1")
		return
	}
	req := Request{Op: op, Host: r.Host}
	var in struct {
		RegistryIDs []string `json:"registryIds"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		jsonError(w, http.StatusBadRequest, "SerializationException", "request body is not JSON")
		return
	}
	req.RegistryIDs = in.RegistryIDs
	if !s.throughGate(r.Context()) {
		return
	}
	key, region, service, signed := sigV4(r.Header.Get("Authorization"))
	req.AccessKeyID, req.Region, req.Service = key, region, service
	fault, i := s.begin(req)
	if !signed {
		jsonError(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return
	}
	if s.jsonFault(w, fault, op) {
		return
	}

	s.mu.Lock()
	s.seq++
	seq, pwLen, expires := s.seq, s.pwLen, s.now().Add(s.tokenLT).Truncate(time.Millisecond) // the wire's precision
	if end, ok := s.issued[key]; ok && end.Before(expires) {
		expires = end
	}
	s.mu.Unlock()
	account := DefaultAccount
	if len(in.RegistryIDs) > 0 {
		account = in.RegistryIDs[0]
	}
	if op == PublicGetAuthorizationToken {
		account = "public"
	}
	password := fmt.Sprintf("pw-%d-%s-%s-%s", seq, key, account, region)
	if n := pwLen - len(password); n > 0 {
		password += "-" + strings.Repeat("x", n-1)
	}
	tok := base64.StdEncoding.EncodeToString([]byte("AWS:" + password))
	if fault == UndecodableToken {
		tok = "%%%not-base64%%%"
	}
	s.update(i, func(r *Request) { r.Password, r.ExpiresAt = password, expires })
	epoch := json.Number(strconv.FormatFloat(float64(expires.UnixMilli())/1000, 'f', 3, 64))

	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("fake-%d", seq))
	if op == PublicGetAuthorizationToken {
		var out struct {
			Data *authData `json:"authorizationData,omitempty"`
		}
		if fault != NoAuthorizationData {
			out.Data = &authData{Token: tok, ExpiresAt: epoch}
		}
		json.NewEncoder(w).Encode(out)
		return
	}
	out := struct {
		Data []authData `json:"authorizationData"`
	}{Data: []authData{}}
	if fault != NoAuthorizationData {
		ids := in.RegistryIDs
		if len(ids) == 0 {
			ids = []string{DefaultAccount}
		}
		for _, id := range ids {
			out.Data = append(out.Data, authData{Token: tok, ExpiresAt: epoch,
				ProxyEndpoint: "https://" + id + ".dkr.ecr." + region + ".amazonaws.com"})
		}
	}
	json.NewEncoder(w).Encode(out)
}

type authData struct {
	Token         string      `json:"authorizationToken"`
	ExpiresAt     json.Number `json:"expiresAt"`
	ProxyEndpoint string      `json:"proxyEndpoint,omitempty"`
}

// jsonFault answers an injected fault of a JSON service; false when f is not answered here.
func (s *Server) jsonFault(w http.ResponseWriter, f Fault, op Op) bool {
	switch f {
	case Throttle:
		jsonError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
	case ServerError:
		jsonError(w, http.StatusInternalServerError, "ServerException", "internal failure")
	case AccessDenied:
		jsonError(w, http.StatusBadRequest, "AccessDeniedException",
			"User: arn:aws:sts::111122223333:assumed-role/node/i-0 is not authorized to perform: "+string(op))
	case Malformed:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		io.WriteString(w, "<html>this is not JSON</html>")
	case WrongType:
		// The token where a number belongs: a decoder that quotes what it got would leak it.
		tok := base64.StdEncoding.EncodeToString([]byte("AWS:secret-in-a-wrong-type-answer"))
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if op == PublicGetAuthorizationToken {
			fmt.Fprintf(w, `{"authorizationData":{"authorizationToken":%q,"expiresAt":%q}}`, tok, tok)
		} else {
			fmt.Fprintf(w, `{"authorizationData":[{"authorizationToken":%q,"expiresAt":%q}]}`, tok, tok)
		}
	default:
		return false
	}
	return true
}

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request, body []byte) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		stsError(w, http.StatusBadRequest, "Sender", "InvalidAction", "not an AWS JSON or query request")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		stsError(w, http.StatusBadRequest, "Sender", "MalformedQueryString", "request body is not a form")
		return
	}
	if a := form.Get("Action"); a != "AssumeRoleWithWebIdentity" {
		stsError(w, http.StatusBadRequest, "Sender", "InvalidAction", "unsupported action "+a)
		return
	}
	if v := form.Get("Version"); v != "2011-06-15" {
		stsError(w, http.StatusBadRequest, "Sender", "InvalidAction", "unsupported version "+v)
		return
	}
	req := Request{Op: AssumeRoleWithWebIdentity, Host: r.Host, RoleARN: form.Get("RoleArn"),
		RoleSessionName: form.Get("RoleSessionName"), WebIdentityToken: form.Get("WebIdentityToken")}
	req.AccessKeyID, req.Region, req.Service, _ = sigV4(r.Header.Get("Authorization"))
	fault, i := s.begin(req)
	if req.RoleARN == "" || req.RoleSessionName == "" || req.WebIdentityToken == "" {
		stsError(w, http.StatusBadRequest, "Sender", "ValidationError", "RoleArn, RoleSessionName and WebIdentityToken are required")
		return
	}
	switch fault {
	case Throttle:
		stsError(w, http.StatusBadRequest, "Sender", "Throttling", "Rate exceeded")
		return
	case ServerError:
		stsError(w, http.StatusInternalServerError, "Receiver", "InternalFailure", "internal failure")
		return
	case AccessDenied:
		stsError(w, http.StatusForbidden, "Sender", "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
		return
	case Malformed:
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, "{this is not XML")
		return
	}

	s.mu.Lock()
	s.seq++
	seq := s.seq
	expires := s.now().Add(s.session).Truncate(time.Second) // the wire's precision
	keyID := fmt.Sprintf("ASIAFAKE%012d", seq)
	s.issued[keyID] = expires
	s.mu.Unlock()
	s.update(i, func(r *Request) { r.IssuedKeyID, r.ExpiresAt = keyID, expires })

	type creds struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	}
	type result struct {
		Credentials                 *creds `xml:"Credentials,omitempty"`
		SubjectFromWebIdentityToken string `xml:"SubjectFromWebIdentityToken"`
		AssumedRoleUser             struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
		Audience string `xml:"Audience"`
		Provider string `xml:"Provider"`
	}
	var out struct {
		XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithWebIdentityResponse"`
		Result    result   `xml:"AssumeRoleWithWebIdentityResult"`
		RequestID string   `xml:"ResponseMetadata>RequestId"`
	}
	out.RequestID = fmt.Sprintf("fake-%d", seq)
	out.Result.SubjectFromWebIdentityToken = "system:serviceaccount:fake:fake"
	out.Result.Audience = "sts.amazonaws.com"
	out.Result.Provider = "oidc.fake"
	roleName := req.RoleARN[strings.LastIndexByte(req.RoleARN, '/')+1:]
	account := DefaultAccount
	if p := strings.Split(req.RoleARN, ":"); len(p) > 4 && p[4] != "" {
		account = p[4]
	}
	out.Result.AssumedRoleUser.Arn = "arn:aws:sts::" + account + ":assumed-role/" + roleName + "/" + req.RoleSessionName
	out.Result.AssumedRoleUser.AssumedRoleID = "AROAFAKE:" + req.RoleSessionName
	if fault != NoAuthorizationData {
		expiration := expires.UTC().Format(time.RFC3339)
		if fault == WrongType {
			expiration = "secret-in-a-wrong-type-answer"
		}
		out.Result.Credentials = &creds{keyID, "fake-session-secret-" + strconv.Itoa(seq), "fake-session-token-" + strconv.Itoa(seq), expiration}
	}
	w.Header().Set("Content-Type", "text/xml")
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(out)
}

func stsError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	type errorBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	out := struct {
		XMLName   xml.Name  `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
		Error     errorBody `xml:"Error"`
		RequestID string    `xml:"RequestId"`
	}{Error: errorBody{typ, code, msg}, RequestID: "fake-error"}
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(out)
}
