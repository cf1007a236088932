package ecr

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// execute runs the plugin as the kubelet would: args, the request JSON on stdin.
func execute(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"--cache-dir=" + t.TempDir(), "--max-backoff=1ms"}, args...)
	plugin := Plugin()
	code = providers.Execute(context.Background(), plugin, args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// request returns a CredentialProviderRequest as the kubelet writes it.
func request(t *testing.T, apiVersion, image, token string, annotations map[string]string) string {
	t.Helper()
	m := map[string]any{"apiVersion": apiVersion, "kind": "CredentialProviderRequest", "image": image}
	if token != "" {
		m["serviceAccountToken"] = token
		m["serviceAccountAnnotations"] = annotations
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExecute(t *testing.T) {
	token := saToken("team", "puller", "uid", 1)
	for _, tc := range []struct {
		name        string
		apiVersion  string
		image       string
		token       string
		annotations map[string]string
		args        []string
		envRole     string
		wantHost    string
		wantRole    string
	}{
		{name: "v1", apiVersion: providers.APIVersionV1, image: privateImg, wantHost: privateHost},
		{name: "v1beta1", apiVersion: providers.APIVersionV1beta1, image: privateImg, wantHost: privateHost},
		{name: "v1alpha1", apiVersion: providers.APIVersionV1alpha1, image: privateImg, wantHost: privateHost},
		{name: "hand-typed tag and digest", apiVersion: providers.APIVersionV1,
			image: privateHost + "/team/app:1.2@sha256:" + strings.Repeat("ab", 32), wantHost: privateHost},
		{name: "public", apiVersion: providers.APIVersionV1, image: "public.ecr.aws/nginx/nginx:latest", wantHost: "public.ecr.aws"},
		{name: "v1 service account, ecr-role-arn", apiVersion: providers.APIVersionV1, image: privateImg, token: token,
			annotations: map[string]string{AnnotationECRRoleARN: roleA}, wantHost: privateHost, wantRole: roleA},
		{name: "v1 service account, role-arn", apiVersion: providers.APIVersionV1, image: privateImg, token: token,
			annotations: map[string]string{AnnotationRoleARN: roleB}, wantHost: privateHost, wantRole: roleB},
		{name: "v1 service account, AWS_ECR_ROLE_ARN", apiVersion: providers.APIVersionV1, image: privateImg, token: token,
			envRole: roleA, wantHost: privateHost, wantRole: roleA},
		{name: "v1 service account, --role-arn over AWS_ECR_ROLE_ARN", apiVersion: providers.APIVersionV1, image: privateImg, token: token,
			envRole: roleA, args: []string{"--role-arn=" + roleB}, wantHost: privateHost, wantRole: roleB},
		{name: "v1 service account without role: node", apiVersion: providers.APIVersionV1, image: privateImg, token: token,
			wantHost: privateHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, realClock())
			e.srv.SetPasswordLength(8 << 10) // real ECR passwords run to kilobytes
			t.Setenv(EnvRoleARN, tc.envRole)
			code, stdout, stderr := execute(t, request(t, tc.apiVersion, tc.image, tc.token, tc.annotations), tc.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("Execute = %d, stderr %q; want 0 and nothing", code, stderr)
			}
			resp, err := providers.DecodeResponse([]byte(stdout), tc.apiVersion)
			if err != nil {
				t.Fatalf("DecodeResponse(stdout, %q) error: %v", tc.apiVersion, err)
			}
			var issued []ecrtest.Request
			for _, r := range e.srv.Requests("") {
				if r.Password != "" {
					issued = append(issued, r)
				}
			}
			if len(issued) != 1 || len(resp.Auth) != 1 || resp.Auth[tc.wantHost].Password != issued[0].Password ||
				resp.Auth[tc.wantHost].Username != "AWS" {
				t.Fatalf("Execute answered auth for %v; want the one token issued for %q", keys(resp.Auth), tc.wantHost)
			}
			if resp.CacheKeyType != providers.CacheKeyRegistry {
				t.Errorf("cacheKeyType = %q, want %q", resp.CacheKeyType, providers.CacheKeyRegistry)
			}
			// Real clock here: half of the 12h (or of the 1h session) less the run time.
			life := ecrtest.DefaultTokenLifetime / 2
			if tc.wantRole != "" {
				life = ecrtest.DefaultSessionLifetime / 2
			}
			if d := resp.CacheDuration; d == nil || d.Duration > life || d.Duration < life-time.Minute {
				t.Errorf("cacheDuration = %v, want about %v", d, life)
			}
			var roles []string
			for _, r := range e.srv.Requests(ecrtest.AssumeRoleWithWebIdentity) {
				roles = append(roles, r.RoleARN)
			}
			if want := []string{tc.wantRole}; tc.wantRole != "" && (len(roles) != 1 || roles[0] != tc.wantRole) {
				t.Errorf("roles assumed = %q, want %q", roles, want)
			} else if tc.wantRole == "" && len(roles) != 0 {
				t.Errorf("roles assumed = %q, want none", roles)
			}
		})
	}
}

func TestExecuteFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stdin     string
		args      []string
		fault     ecrtest.Fault
		wantInErr string
	}{
		{name: "lookalike host", stdin: `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io/app"}`,
			wantInErr: "not an ECR registry"},
		{name: "access denied", stdin: `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"` + privateImg + `"}`,
			fault: ecrtest.AccessDenied, wantInErr: "AccessDeniedException"},
		{name: "throttled until --timeout cannot hold another attempt", stdin: `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"` + privateImg + `"}`,
			args: []string{"--max-attempts=2", "--timeout=1s"}, fault: ecrtest.Throttle, wantInErr: "ThrottlingException"},
		{name: "bad flag", stdin: "{}", args: []string{"--max-attempts=many"}, wantInErr: "max-attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, realClock())
			if tc.fault != "" {
				e.srv.Inject(ecrtest.GetAuthorizationToken, tc.fault, -1)
			}
			code, stdout, stderr := execute(t, tc.stdin, tc.args...)
			if code == 0 || stdout != "" {
				t.Fatalf("Execute = %d, stdout %q; want failure and no output", code, stdout)
			}
			if !strings.HasPrefix(stderr, PluginName+": ") || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.wantInErr) {
				t.Errorf("stderr = %q, want one line %q… containing %q", stderr, PluginName+": ", tc.wantInErr)
			}
		})
	}
}

// TestExecuteLogsNoSecrets runs at the highest verbosity and checks stderr.
func TestExecuteLogsNoSecrets(t *testing.T) {
	e := newEnvWith(t, realClock())
	token := saToken("team", "puller", "uid", 1)
	in := request(t, providers.APIVersionV1, privateImg, token, map[string]string{AnnotationRoleARN: roleA})
	code, stdout, stderr := execute(t, in, "-v=10")
	if code != 0 {
		t.Fatalf("Execute = %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stderr, "ecr: fetched token") {
		t.Fatalf("stderr at -v=10 does not show the fetch:\n%s", stderr)
	}
	for _, s := range secrets(e, &providers.Request{ServiceAccountToken: token}) {
		if strings.Contains(stderr, s) {
			t.Errorf("stderr contains the secret %.40q…", s)
		}
	}
	if !strings.Contains(stdout, `"password":"pw-`) {
		t.Errorf("stdout = %q, want the response", stdout)
	}
}

func TestExecuteHelp(t *testing.T) {
	code, stdout, _ := execute(t, "", "--help")
	if code != 0 {
		t.Fatalf("Execute --help = %d, want 0", code)
	}
	for _, flag := range []string{"-role-arn", "-max-attempts", "-max-backoff", "-cache-dir", "-no-disk-cache", "-cache-fresh-fraction", "-timeout", EnvRoleARN} {
		if !strings.Contains(stdout, flag) {
			t.Errorf("--help does not mention %s:\n%s", flag, stdout)
		}
	}
}

// TestExecutePeerArguments: cloud-provider-aws's ecr-credential-provider takes and ignores
// positional arguments, so a kubelet config entry that passes some works here too, with one
// warning line that does not repeat them.
func TestExecutePeerArguments(t *testing.T) {
	newEnvWith(t, realClock())
	code, stdout, stderr := execute(t, request(t, providers.APIVersionV1, privateImg, "", nil), "get-credentials", "--max-attempts=2", "extra-word")
	if code != 0 {
		t.Fatalf("Execute = %d, stderr %q", code, stderr)
	}
	if _, err := providers.DecodeResponse([]byte(stdout), providers.APIVersionV1); err != nil {
		t.Fatalf("DecodeResponse: %v", err)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "positional arguments ignored") || strings.Contains(stderr, "extra-word") {
		t.Errorf("stderr = %q, want one warning that does not quote the arguments", stderr)
	}
}
