package ecr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/providers"
)

const (
	privateHost = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
	privateImg  = privateHost + "/team/app"
	publicImg   = "public.ecr.aws/team/app"
	roleA       = "arn:aws:iam::123456789012:role/pull-a"
	roleB       = "arn:aws:iam::123456789012:role/pull-b"
)

// wantResponse is the answer for one token of host, fresh for d.
func wantResponse(host, password string, d time.Duration) *providers.Response {
	return &providers.Response{
		CacheKeyType:  providers.CacheKeyRegistry,
		CacheDuration: providers.CacheFor(d),
		Auth:          map[string]providers.AuthConfig{host: {Username: "AWS", Password: password}},
	}
}

func TestProvideNodeIdentity(t *testing.T) {
	for _, tc := range []struct {
		name        string
		image       string
		wantOp      ecrtest.Op
		wantRegion  string
		wantService string
		wantIDs     []string
	}{
		{"aws", privateImg, ecrtest.GetAuthorizationToken, "us-west-2", "ecr", []string{"123456789012"}},
		{"cross-account", "999999999999.dkr.ecr.eu-west-1.amazonaws.com/x", ecrtest.GetAuthorizationToken, "eu-west-1", "ecr", []string{"999999999999"}},
		{"govcloud", "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/x", ecrtest.GetAuthorizationToken, "us-gov-west-1", "ecr", []string{"123456789012"}},
		{"china", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/x", ecrtest.GetAuthorizationToken, "cn-north-1", "ecr", []string{"123456789012"}},
		{"fips", "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/x", ecrtest.GetAuthorizationToken, "us-east-1", "ecr", []string{"123456789012"}},
		{"dual-stack", "123456789012.dkr-ecr.us-east-2.on.aws/x", ecrtest.GetAuthorizationToken, "us-east-2", "ecr", []string{"123456789012"}},
		{"iso-f", "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov/x", ecrtest.GetAuthorizationToken, "us-isof-south-1", "ecr", []string{"123456789012"}},
		{"default port", "123456789012.dkr.ecr.us-west-2.amazonaws.com:443/x", ecrtest.GetAuthorizationToken, "us-west-2", "ecr", []string{"123456789012"}},
		{"public", publicImg, ecrtest.PublicGetAuthorizationToken, "us-east-1", "ecr-public", nil},
		{"public alias", "ecr-public.aws.com/team/app", ecrtest.PublicGetAuthorizationToken, "us-east-1", "ecr-public", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.provider(Options{})
			got, err := p.Provide(context.Background(), &providers.Request{Image: tc.image})
			if err != nil {
				t.Fatalf("Provide(%q) error: %v", tc.image, err)
			}
			reqs := e.srv.Requests("")
			if len(reqs) != 1 {
				t.Fatalf("Provide(%q) made %d calls, want 1: %+v", tc.image, len(reqs), reqs)
			}
			r := reqs[0]
			wantReq := ecrtest.Request{Op: tc.wantOp, Host: r.Host, AccessKeyID: ecrtest.NodeAccessKeyID,
				Region: tc.wantRegion, Service: tc.wantService, RegistryIDs: tc.wantIDs, Password: r.Password,
				ExpiresAt: e.clock.Now().Add(ecrtest.DefaultTokenLifetime)}
			if diff := cmp.Diff(wantReq, r); diff != "" {
				t.Errorf("Provide(%q): API call (-want +got):\n%s", tc.image, diff)
			}
			host, _, _ := strings.Cut(tc.image, "/")
			if diff := cmp.Diff(wantResponse(host, r.Password, 6*time.Hour), got); diff != "" {
				t.Errorf("Provide(%q) mismatch (-want +got):\n%s", tc.image, diff)
			}
		})
	}
}

// TestPrivateAndPublicTokensStaySeparate: a node that pulls from its private registry and
// from ECR Public gets two tokens, each keyed by its own host only.
func TestPrivateAndPublicTokensStaySeparate(t *testing.T) {
	e := newEnv(t)
	p := e.provider(Options{})
	for _, image := range []string{privateImg, publicImg, privateImg, publicImg} {
		resp, err := p.Provide(context.Background(), &providers.Request{Image: image})
		if err != nil {
			t.Fatalf("Provide(%q) error: %v", image, err)
		}
		host, _, _ := strings.Cut(image, "/")
		if len(resp.Auth) != 1 || resp.Auth[host].Password == "" {
			t.Errorf("Provide(%q).Auth keys = %v, want only %q", image, keys(resp.Auth), host)
		}
		var want ecrtest.Op = ecrtest.GetAuthorizationToken
		if host == "public.ecr.aws" {
			want = ecrtest.PublicGetAuthorizationToken
		}
		if reqs := e.srv.Requests(want); resp.Auth[host].Password != reqs[len(reqs)-1].Password {
			t.Errorf("Provide(%q) returned a password %s did not issue", image, want)
		}
	}
	if got := [2]int{e.srv.Calls(ecrtest.GetAuthorizationToken), e.srv.Calls(ecrtest.PublicGetAuthorizationToken)}; got != [2]int{1, 1} {
		t.Errorf("calls (private, public) = %v, want [1 1]", got)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestProvideServiceAccount(t *testing.T) {
	token := saToken("team-a", "puller", "uid-1", 1)
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		defaultRole string
		wantRole    string // "" for the node's identity
	}{
		{"ecr-role-arn annotation", map[string]string{AnnotationECRRoleARN: roleA, AnnotationRoleARN: roleB}, "", roleA},
		{"role-arn annotation", map[string]string{AnnotationRoleARN: roleB}, "", roleB},
		{"default role", map[string]string{"unrelated": "x"}, roleA, roleA},
		{"annotation over default role", map[string]string{AnnotationRoleARN: roleB}, roleA, roleB},
		{"no role: node identity", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.provider(Options{RoleARN: tc.defaultRole})
			req := &providers.Request{Image: privateImg, ServiceAccountToken: token, ServiceAccountAnnotations: tc.annotations}
			got, err := p.Provide(context.Background(), req)
			if err != nil {
				t.Fatalf("Provide(%q) error: %v", privateImg, err)
			}
			stsReqs, ecrReqs := e.srv.Requests(ecrtest.AssumeRoleWithWebIdentity), e.srv.Requests(ecrtest.GetAuthorizationToken)
			if len(ecrReqs) != 1 {
				t.Fatalf("ECR calls = %d, want 1", len(ecrReqs))
			}
			wantKey, wantLife := ecrtest.NodeAccessKeyID, 6*time.Hour
			if tc.wantRole == "" {
				if len(stsReqs) != 0 {
					t.Fatalf("STS calls = %+v, want none", stsReqs)
				}
			} else {
				if len(stsReqs) != 1 {
					t.Fatalf("STS calls = %d, want 1", len(stsReqs))
				}
				s := stsReqs[0]
				if s.RoleARN != tc.wantRole || s.WebIdentityToken != token || s.RoleSessionName != "pullkeys-team-a-puller" || s.AccessKeyID != "" {
					t.Errorf("AssumeRoleWithWebIdentity got role %q, session %q, signed by %q, token passed %v; want %q, %q, unsigned, true",
						s.RoleARN, s.RoleSessionName, s.AccessKeyID, s.WebIdentityToken == token, tc.wantRole, "pullkeys-team-a-puller")
				}
				// ECR is called as the role; the fake ends its token with the role's session (1h).
				wantKey, wantLife = s.IssuedKeyID, ecrtest.DefaultSessionLifetime/2
			}
			if ecrReqs[0].AccessKeyID != wantKey {
				t.Errorf("ECR called with access key %q, want %q", ecrReqs[0].AccessKeyID, wantKey)
			}
			if diff := cmp.Diff(wantResponse(privateHost, ecrReqs[0].Password, wantLife), got); diff != "" {
				t.Errorf("Provide(%q) mismatch (-want +got):\n%s", privateImg, diff)
			}
		})
	}
}

func TestProvideInvalidRole(t *testing.T) {
	e := newEnv(t)
	p := e.provider(Options{})
	req := &providers.Request{Image: privateImg, ServiceAccountToken: saToken("ns", "sa", "u", 1),
		ServiceAccountAnnotations: map[string]string{AnnotationRoleARN: "not-an-arn"}}
	_, err := p.Provide(context.Background(), req)
	if !errors.Is(err, ErrInvalidRoleARN) || !strings.Contains(err.Error(), AnnotationRoleARN) {
		t.Errorf("Provide with role %q error = %v, want ErrInvalidRoleARN naming the annotation", "not-an-arn", err)
	}
	if n := len(e.srv.Requests("")); n != 0 {
		t.Errorf("calls = %d, want 0", n)
	}
}

// TestCacheKeySeparatesIdentities runs requests in order on one provider and checks which
// ones reach ECR: one call per registry, identity (node, role, service account) and fresh
// period; tokens the kubelet mints again for one service account share the entry.
func TestCacheKeySeparatesIdentities(t *testing.T) {
	e := newEnv(t)
	p := e.provider(Options{})
	sa := func(ns, name, uid string, serial int, role string) (string, map[string]string) {
		return saToken(ns, name, uid, serial), map[string]string{AnnotationECRRoleARN: role}
	}
	steps := []struct {
		name     string
		image    string
		token    string
		ann      map[string]string
		wantCall bool
	}{
		{name: "node, first", image: privateImg, wantCall: true},
		{name: "node, again", image: privateImg},
		{name: "node, other repository of the registry", image: privateHost + "/other"},
		{name: "node, same account in another region", image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/x", wantCall: true},
		{name: "node, fips host of the registry", image: "123456789012.dkr.ecr-fips.us-west-2.amazonaws.com/x", wantCall: true},
		{name: "node, public", image: publicImg, wantCall: true},
		{name: "token without role is the node", image: privateImg, token: saToken("ns", "a", "u-a", 1)},
		{name: "service account a, role A", image: privateImg, wantCall: true},
		{name: "service account a, new token", image: privateImg},
		{name: "service account b, role A", image: privateImg, wantCall: true},
		{name: "service account a, role B", image: privateImg, wantCall: true},
		{name: "service account a recreated (new uid), role A", image: privateImg, wantCall: true},
		{name: "service account a, role A, public", image: publicImg, wantCall: true},
	}
	steps[7].token, steps[7].ann = sa("ns", "a", "u-a", 1, roleA)
	steps[8].token, steps[8].ann = sa("ns", "a", "u-a", 2, roleA)
	steps[9].token, steps[9].ann = sa("ns", "b", "u-b", 1, roleA)
	steps[10].token, steps[10].ann = sa("ns", "a", "u-a", 3, roleB)
	steps[11].token, steps[11].ann = sa("ns", "a", "u-a2", 1, roleA)
	steps[12].token, steps[12].ann = sa("ns", "a", "u-a", 4, roleA)

	calls := func() int {
		return e.srv.Calls(ecrtest.GetAuthorizationToken) + e.srv.Calls(ecrtest.PublicGetAuthorizationToken)
	}
	for _, s := range steps {
		before := calls()
		req := &providers.Request{Image: s.image, ServiceAccountToken: s.token, ServiceAccountAnnotations: s.ann}
		if _, err := p.Provide(context.Background(), req); err != nil {
			t.Fatalf("%s: Provide(%q) error: %v", s.name, s.image, err)
		}
		if got := calls() > before; got != s.wantCall {
			t.Errorf("%s: Provide(%q) called the API = %v, want %v", s.name, s.image, got, s.wantCall)
		}
	}
}

func TestProvideRejectsNonECR(t *testing.T) {
	e := newEnv(t)
	p := e.provider(Options{})
	for _, image := range []string{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io/app",
		"12345678901.dkr.ecr.us-east-1.amazonaws.com/app",
		"1234567890123.dkr.ecr.us-east-1.amazonaws.com/app",
		"123456789012.dkr.ecr.us_east-1.amazonaws.com/app",
		"public.ecr.aws.evil.io/app",
		"docker.io/library/nginx",
		"localhost:5000/app",
	} {
		t.Run(image, func(t *testing.T) {
			req := &providers.Request{Image: image, ServiceAccountToken: saToken("ns", "sa", "u", 1),
				ServiceAccountAnnotations: map[string]string{AnnotationRoleARN: roleA}}
			resp, err := p.Provide(context.Background(), req)
			host, _, _ := strings.Cut(image, "/")
			if !errors.Is(err, ErrNotECR) || resp != nil || !strings.Contains(err.Error(), host) {
				t.Errorf("Provide(%q) = %v, %v; want no response and an ErrNotECR error naming %q", image, resp, err, host)
			}
		})
	}
	if reqs := e.srv.Requests(""); len(reqs) != 0 {
		t.Errorf("calls for hosts that are not ECR: %+v", reqs)
	}
}

func TestProvideFaults(t *testing.T) {
	withRole := func(r *providers.Request) {
		r.ServiceAccountToken = saToken("ns", "sa", "u", 1)
		r.ServiceAccountAnnotations = map[string]string{AnnotationRoleARN: roleA}
	}
	for _, tc := range []struct {
		name        string
		op          ecrtest.Op
		fault       ecrtest.Fault
		n           int
		maxAttempts int
		wantErr     error // nil: success; errAny: any error
		wantInErr   string
		wantCalls   int // of op
	}{
		{name: "throttled twice, then served", op: ecrtest.GetAuthorizationToken, fault: ecrtest.Throttle, n: 2, wantCalls: 3},
		{name: "500 four times, then served", op: ecrtest.GetAuthorizationToken, fault: ecrtest.ServerError, n: 4, wantCalls: 5},
		{name: "throttled past max attempts, then served", op: ecrtest.GetAuthorizationToken, fault: ecrtest.Throttle, n: 7, maxAttempts: 2, wantCalls: 8},
		{name: "500 with two attempts", op: ecrtest.GetAuthorizationToken, fault: ecrtest.ServerError, n: -1, maxAttempts: 2, wantErr: errAny, wantInErr: "StatusCode: 500", wantCalls: 2},
		{name: "access denied is not retried", op: ecrtest.GetAuthorizationToken, fault: ecrtest.AccessDenied, n: -1, wantErr: errAny, wantInErr: "AccessDeniedException", wantCalls: 1},
		{name: "malformed answer", op: ecrtest.GetAuthorizationToken, fault: ecrtest.Malformed, n: 1, wantErr: ErrMalformedResponse, wantInErr: "ECR GetAuthorizationToken", wantCalls: 1},
		{name: "wrongly typed answer", op: ecrtest.GetAuthorizationToken, fault: ecrtest.WrongType, n: 1, wantErr: ErrMalformedResponse, wantCalls: 1},
		{name: "undecodable token", op: ecrtest.GetAuthorizationToken, fault: ecrtest.UndecodableToken, n: 1, wantErr: ErrMalformedResponse, wantInErr: "not base64", wantCalls: 1},
		{name: "no authorization data", op: ecrtest.GetAuthorizationToken, fault: ecrtest.NoAuthorizationData, n: 1, wantErr: ErrMalformedResponse, wantCalls: 1},
		{name: "public throttled once", op: ecrtest.PublicGetAuthorizationToken, fault: ecrtest.Throttle, n: 1, wantCalls: 2},
		{name: "public wrongly typed", op: ecrtest.PublicGetAuthorizationToken, fault: ecrtest.WrongType, n: 1, wantErr: ErrMalformedResponse, wantCalls: 1},
		{name: "public undecodable token", op: ecrtest.PublicGetAuthorizationToken, fault: ecrtest.UndecodableToken, n: 1, wantErr: ErrMalformedResponse, wantCalls: 1},
		{name: "public no authorization data", op: ecrtest.PublicGetAuthorizationToken, fault: ecrtest.NoAuthorizationData, n: 1, wantErr: ErrMalformedResponse, wantCalls: 1},
		{name: "sts throttled once", op: ecrtest.AssumeRoleWithWebIdentity, fault: ecrtest.Throttle, n: 1, wantCalls: 2},
		{name: "sts throttled past max attempts", op: ecrtest.AssumeRoleWithWebIdentity, fault: ecrtest.Throttle, n: 4, maxAttempts: 2, wantCalls: 5},
		{name: "sts 500 once", op: ecrtest.AssumeRoleWithWebIdentity, fault: ecrtest.ServerError, n: 1, wantCalls: 2},
		{name: "sts access denied", op: ecrtest.AssumeRoleWithWebIdentity, fault: ecrtest.AccessDenied, n: -1, wantErr: errAny, wantInErr: "assume role " + roleA, wantCalls: 1},
		{name: "sts malformed", op: ecrtest.AssumeRoleWithWebIdentity, fault: ecrtest.Malformed, n: 1, wantErr: ErrMalformedResponse, wantInErr: "STS AssumeRoleWithWebIdentity", wantCalls: 1},
		{name: "sts wrongly typed", op: ecrtest.AssumeRoleWithWebIdentity, fault: ecrtest.WrongType, n: 1, wantErr: ErrMalformedResponse, wantCalls: 1},
		{name: "sts without credentials", op: ecrtest.AssumeRoleWithWebIdentity, fault: ecrtest.NoAuthorizationData, n: 1, wantErr: errAny, wantInErr: "did not contain credentials", wantCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.provider(Options{MaxAttempts: tc.maxAttempts})
			req := &providers.Request{Image: privateImg}
			switch tc.op {
			case ecrtest.PublicGetAuthorizationToken:
				req.Image = publicImg
			case ecrtest.AssumeRoleWithWebIdentity:
				withRole(req)
			}
			e.srv.Inject(tc.op, tc.fault, tc.n)
			resp, err := p.Provide(context.Background(), req)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Provide(%q) error: %v", req.Image, err)
			case tc.wantErr == nil:
				if len(resp.Auth) != 1 {
					t.Errorf("Provide(%q).Auth = %d entries, want 1", req.Image, len(resp.Auth))
				}
			case err == nil:
				t.Fatalf("Provide(%q) = %+v, want an error", req.Image, resp)
			case tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Errorf("Provide(%q) error = %v, want %v", req.Image, err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("Provide(%q) error = %q, want it to contain %q", req.Image, err, tc.wantInErr)
			}
			if got := e.srv.Calls(tc.op); got != tc.wantCalls {
				t.Errorf("calls of %s = %d, want %d", tc.op, got, tc.wantCalls)
			}
			if err != nil {
				for _, secret := range secrets(e, req) {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("Provide(%q) error %q contains the secret %q", req.Image, err, secret)
					}
				}
			}
		})
	}
}

// errAny stands for "some error" in tables.
var errAny = errors.New("any error")

// secrets lists every secret a test has seen: passwords and tokens issued by the fake, the
// service account token and the node's secret key.
func secrets(e *env, reqs ...*providers.Request) []string {
	out := []string{ecrtest.NodeSecretAccessKey, "secret-in-a-wrong-type-answer", "signature-of-a-secret-token", "fake-session-secret-", "fake-session-token-"}
	for _, r := range e.srv.Requests("") {
		if r.Password != "" {
			out = append(out, r.Password, strings.TrimPrefix(fmt.Sprintf("%q", r.Password), `"`))
		}
	}
	for _, r := range reqs {
		if r.ServiceAccountToken != "" {
			out = append(out, r.ServiceAccountToken)
		}
	}
	return out
}

func TestProvideDeadline(t *testing.T) {
	e := newEnv(t)
	p := e.provider(Options{})
	e.srv.SetLatency(time.Hour) // the fake answers when the client gives up
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Provide(ctx, &providers.Request{Image: privateImg})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Provide(%q) with a stuck API error = %v, want context.DeadlineExceeded", privateImg, err)
	}
}

// TestNoNodeCredentials: without any node credentials the error says so and ECR is not
// called unsigned.
func TestNoNodeCredentials(t *testing.T) {
	e := newEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	p := e.provider(Options{})
	_, err := p.Provide(context.Background(), &providers.Request{Image: privateImg})
	if err == nil || !strings.Contains(err.Error(), "get the node's AWS credentials") {
		t.Errorf("Provide(%q) without credentials error = %v, want one about the node's credentials", privateImg, err)
	}
	if n := e.srv.Calls(ecrtest.GetAuthorizationToken); n != 0 {
		t.Errorf("ECR calls = %d, want 0", n)
	}
}

// TestWarmCacheLoadsNoConfig: a second plugin process (a new provider and cache on the same
// directory) answers from disk without loading any SDK configuration or calling anything.
func TestWarmCacheLoadsNoConfig(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	reqs := []*providers.Request{
		{Image: privateImg},
		{Image: publicImg},
		{Image: privateImg, ServiceAccountToken: saToken("ns", "sa", "u", 1), ServiceAccountAnnotations: map[string]string{AnnotationRoleARN: roleA}},
	}
	first := e.provider(Options{Cache: e.diskCache(dir)})
	var want []*providers.Response
	for _, r := range reqs {
		resp, err := first.Provide(context.Background(), r)
		if err != nil {
			t.Fatalf("Provide(%q) error: %v", r.Image, err)
		}
		want = append(want, resp)
	}
	calls := len(e.srv.Requests(""))
	e.clock.Advance(time.Minute)

	second := e.provider(Options{Cache: e.diskCache(dir)})
	for i, r := range reqs {
		if r.ServiceAccountToken != "" {
			r.ServiceAccountToken = saToken("ns", "sa", "u", 2) // the kubelet mints a new one
		}
		got, err := second.Provide(context.Background(), r)
		if err != nil {
			t.Fatalf("second process: Provide(%q) error: %v", r.Image, err)
		}
		want[i].CacheDuration = providers.CacheFor(want[i].CacheDuration.Duration - time.Minute)
		if diff := cmp.Diff(want[i], got); diff != "" {
			t.Errorf("second process: Provide(%q) mismatch (-want +got):\n%s", r.Image, diff)
		}
	}
	if n := second.configLoads.Load(); n != 0 {
		t.Errorf("second process loaded the SDK configuration %d times, want 0", n)
	}
	if n := len(e.srv.Requests("")); n != calls {
		t.Errorf("second process made %d calls, want 0", n-calls)
	}
}

// TestConcurrentColdInvocations: 50 plugin processes started at once for one registry (each
// a provider with its own cache on the shared directory) make exactly one API call.
func TestConcurrentColdInvocations(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	const n = 50
	var wg sync.WaitGroup
	passwords := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := e.provider(Options{Cache: e.diskCache(dir)})
			resp, err := p.Provide(context.Background(), &providers.Request{Image: privateImg})
			errs[i] = err
			if err == nil {
				passwords[i] = resp.Auth[privateHost].Password
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: Provide(%q) error: %v", i, privateImg, err)
		}
	}
	if got := e.srv.Calls(ecrtest.GetAuthorizationToken); got != 1 {
		t.Errorf("%d cold processes made %d ECR calls, want 1", n, got)
	}
	for i, pw := range passwords {
		if pw != passwords[0] {
			t.Errorf("process %d got another password than process 0", i)
		}
	}
}

// TestRefreshAndStale follows one token through its life: fresh for half of it, then
// refreshed; when the refresh fails the old token is served with cacheDuration 0 (the kubelet
// must not keep it), until shortly before it expires.
func TestRefreshAndStale(t *testing.T) {
	e := newEnv(t)
	p := e.provider(Options{MaxAttempts: 1})
	provide := func() (*providers.Response, error) {
		return p.Provide(context.Background(), &providers.Request{Image: privateImg})
	}
	first, err := provide()
	if err != nil {
		t.Fatal(err)
	}
	pw1 := first.Auth[privateHost].Password

	e.clock.Advance(2 * time.Hour)
	if got, err := provide(); err != nil || got.Auth[privateHost].Password != pw1 || got.CacheDuration.Duration != 4*time.Hour {
		t.Fatalf("after 2h: Provide = %v, %v; want the first token for 4h more", got, err)
	}

	e.clock.Advance(4 * time.Hour) // half-life: refresh
	got, err := provide()
	if err != nil {
		t.Fatal(err)
	}
	pw2 := got.Auth[privateHost].Password
	if pw2 == pw1 || got.CacheDuration.Duration != 6*time.Hour {
		t.Fatalf("after 6h: Provide gave the same token or cacheDuration %v; want a new token for 6h", got.CacheDuration)
	}

	e.clock.Advance(7 * time.Hour) // past half-life of the second token, refresh fails
	e.srv.Inject(ecrtest.GetAuthorizationToken, ecrtest.ServerError, -1)
	got, err = provide()
	if err != nil {
		t.Fatalf("stale: Provide error: %v", err)
	}
	if diff := cmp.Diff(wantResponse(privateHost, pw2, 0), got); diff != "" {
		t.Errorf("stale: Provide mismatch (-want +got):\n%s", diff)
	}

	e.clock.Advance(5*time.Hour - time.Minute) // 1 minute left: too close to expiry
	if got, err := provide(); err == nil {
		t.Errorf("near expiry: Provide = %+v, want an error", got)
	}
}

// TestNoSecretsInLogs runs successes and failures with every log level on and checks that no
// password, token or secret key reaches the log.
func TestNoSecretsInLogs(t *testing.T) {
	e := newEnv(t)
	e.srv.SetPasswordLength(4000)
	p := e.provider(Options{MaxAttempts: 2})
	role := map[string]string{AnnotationECRRoleARN: roleA}
	var reqs []*providers.Request
	run := func(r *providers.Request) {
		reqs = append(reqs, r)
		p.Provide(context.Background(), r)
	}
	run(&providers.Request{Image: privateImg})
	run(&providers.Request{Image: publicImg})
	run(&providers.Request{Image: privateImg, ServiceAccountToken: saToken("ns", "a", "u", 1), ServiceAccountAnnotations: role})
	e.clock.Advance(7 * time.Hour)
	e.srv.Inject(ecrtest.GetAuthorizationToken, ecrtest.WrongType, -1)
	run(&providers.Request{Image: privateImg}) // stale, logged with the error
	run(&providers.Request{Image: "999999999999.dkr.ecr.us-east-1.amazonaws.com/x"})
	e.srv.Inject(ecrtest.AssumeRoleWithWebIdentity, ecrtest.AccessDenied, -1)
	run(&providers.Request{Image: privateImg, ServiceAccountToken: saToken("ns", "b", "u", 1), ServiceAccountAnnotations: role})

	logs := e.logs.String()
	if !strings.Contains(logs, "ecr: fetched token") {
		t.Fatalf("logs do not show the fetches; the test is not looking at them:\n%s", logs)
	}
	for _, s := range secrets(e, reqs...) {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain the secret %.40q…", s)
		}
	}
}
