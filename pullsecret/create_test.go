package pullsecret

import (
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// kubectlForms are the create command lines of the golden files (see testdata/golden/README.md),
// in kubectl's flags, which pullkeys secret create takes as they are.
var kubectlForms = []struct {
	name   string
	golden string
	args   []string
}{
	{
		name:   "server user password",
		golden: "basic.yaml",
		args:   []string{"regcred", "--docker-server=registry.example.io", "--docker-username=alice", "--docker-password=s3cret-Pa55"},
	},
	{
		name:   "json output",
		golden: "basic.json",
		args:   []string{"regcred", "--docker-server=registry.example.io", "--docker-username=alice", "--docker-password=s3cret-Pa55", "-o", "json"},
	},
	{
		name:   "default server, email and namespace",
		golden: "dockerhub-email-namespace.yaml",
		args:   []string{"hub", "--docker-username=bob", "--docker-password=hub-T0ken-99", "--docker-email=bob@example.io", "-n", "apps"},
	},
	{
		name:   "port, path, non-ASCII user and HTML-escaped password",
		golden: "special.yaml",
		args:   []string{"special", "--docker-server=registry.example.io:5000/team", "--docker-username=us€r", `--docker-password=p<a>s&s"w:o\rd`, "--docker-email=a+b@example.io"},
	},
	{
		name:   "port, path, non-ASCII user and HTML-escaped password as json",
		golden: "special.json",
		args:   []string{"special", "--docker-server=registry.example.io:5000/team", "--docker-username=us€r", `--docker-password=p<a>s&s"w:o\rd`, "--docker-email=a+b@example.io", "--output=json"},
	},
	{
		name:   "ecr registry in kube-system",
		golden: "ecr.yaml",
		args:   []string{"ecr", "--docker-server=123456789012.dkr.ecr.us-east-1.amazonaws.com", "--docker-username=AWS", "--docker-password=ecr-token-abc123", "--namespace=kube-system"},
	},
}

func TestCreateMatchesKubectlGolden(t *testing.T) {
	for _, tc := range kubectlForms {
		t.Run(tc.name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", "golden", tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := run(t, "", append([]string{"create"}, tc.args...)...)
			if code != ExitOK || stderr != "" {
				t.Fatalf("Command(create %q) = %d, stderr %q; want 0 and nothing", tc.args, code, stderr)
			}
			if diff := cmp.Diff(string(want), stdout); diff != "" {
				t.Errorf("Command(create %q) stdout differs from kubectl's (-kubectl +ours):\n%s", tc.args, diff)
			}
		})
	}
}

// TestKubectlAgreement compares with the kubectl on $PATH, when there is one: a client dry
// run contacts no server. A kubectl before v1.34 prints a null creationTimestamp, which is
// left out of the comparison.
func TestKubectlAgreement(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl on $PATH")
	}
	home := t.TempDir()
	kubeconfig := filepath.Join(home, "config")
	const cfg = `apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
users: [{name: none, user: {token: unused}}]
current-context: none
`
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	nullTimestamp := regexp.MustCompile(`(?m)(,\n\s*"creationTimestamp": null|^\s*creationTimestamp: null\n)`)
	for _, tc := range kubectlForms {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"create", "secret", "docker-registry"}, tc.args...)
			args = append(args, "--dry-run=client")
			if !strings.Contains(strings.Join(tc.args, " "), "json") {
				args = append(args, "-o", "yaml")
			}
			cmd := exec.Command(kubectl, args...)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+home)
			out, err := cmd.Output()
			if err != nil {
				t.Skipf("kubectl %q failed (%v): not a usable kubectl here", args, err)
			}
			want := nullTimestamp.ReplaceAllString(string(out), "")
			code, stdout, stderr := run(t, "", append([]string{"create"}, tc.args...)...)
			if code != ExitOK {
				t.Fatalf("Command(create %q) = %d, stderr %q", tc.args, code, stderr)
			}
			if diff := cmp.Diff(want, stdout); diff != "" {
				t.Errorf("Command(create %q) differs from kubectl %q (-kubectl +ours):\n%s", tc.args, args, diff)
			}
		})
	}
}

func TestEncodeDockerConfigJSON(t *testing.T) {
	tests := []struct {
		name    string
		auths   []Auth
		want    string
		wantErr error
	}{
		{
			name:  "kubectl's field order, email left out when empty",
			auths: []Auth{{Server: "registry.example.io", Username: "alice", Password: "pw"}},
			want:  `{"auths":{"registry.example.io":{"username":"alice","password":"pw","auth":"YWxpY2U6cHc="}}}`,
		},
		{
			name:  "email between password and auth",
			auths: []Auth{{Server: DefaultServer, Username: "bob", Password: "pw", Email: "bob@example.io"}},
			want:  `{"auths":{"https://index.docker.io/v1/":{"username":"bob","password":"pw","email":"bob@example.io","auth":"Ym9iOnB3"}}}`,
		},
		{
			name:  "servers sorted",
			auths: []Auth{{Server: "b.example.io", Username: "b", Password: "2"}, {Server: "a.example.io", Username: "a", Password: "1"}},
			want:  `{"auths":{"a.example.io":{"username":"a","password":"1","auth":"YTox"},"b.example.io":{"username":"b","password":"2","auth":"Yjoy"}}}`,
		},
		{
			name:  "empty credentials still get an auth, as in kubectl",
			auths: []Auth{{Server: "registry.example.io"}},
			want:  `{"auths":{"registry.example.io":{"auth":"Og=="}}}`,
		},
		{
			name:  "no entries",
			auths: nil,
			want:  `{"auths":{}}`,
		},
		{
			name:    "same server twice",
			auths:   []Auth{{Server: "registry.example.io"}, {Server: "registry.example.io"}},
			wantErr: ErrInvalid,
		},
		{
			name:    "empty server",
			auths:   []Auth{{Server: ""}},
			wantErr: ErrInvalid,
		},
		{
			name:    "server that is not a URL",
			auths:   []Auth{{Server: "registry example io"}},
			wantErr: ErrInvalid,
		},
		{
			name:    "server with no host",
			auths:   []Auth{{Server: "https:///v2/"}},
			wantErr: ErrInvalid,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodeDockerConfigJSON(tc.auths)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("EncodeDockerConfigJSON(%+v) error = %v, want %v", tc.auths, err, tc.wantErr)
			}
			if string(got) != tc.want {
				t.Errorf("EncodeDockerConfigJSON(%+v) = %s, want %s", tc.auths, got, tc.want)
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name, secret, namespace string
		ok                      bool
	}{
		{name: "plain", secret: "regcred", ok: true},
		{name: "dots and dashes", secret: "ecr.pull-secret", namespace: "kube-system", ok: true},
		{name: "empty", secret: ""},
		{name: "upper case", secret: "RegCred"},
		{name: "underscore", secret: "reg_cred"},
		{name: "too long", secret: strings.Repeat("a", 254)},
		{name: "namespace with a dot", secret: "regcred", namespace: "team.apps"},
		{name: "namespace upper case", secret: "regcred", namespace: "Apps"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateName(tc.secret, tc.namespace)
			if (err == nil) != tc.ok {
				t.Errorf("ValidateName(%q, %q) = %v, want ok %v", tc.secret, tc.namespace, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("ValidateName(%q, %q) = %v, want it to wrap ErrInvalid", tc.secret, tc.namespace, err)
			}
		})
	}
}

func TestCreateUsage(t *testing.T) {
	cfg := writeFile(t, "config.json", `{"auths":{"registry.example.io":{"auth":"dTpw"}}}`)
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{name: "no name", args: []string{"--docker-username=u", "--docker-password=p"}, want: "no NAME"},
		{name: "no source", args: []string{"regcred"}, want: "give --docker-username"},
		{name: "username without password", args: []string{"regcred", "--docker-username=u"}, want: "must not be empty"},
		{name: "two sources", args: []string{"regcred", "--docker-username=u", "--docker-password=p", "--from-docker-config", cfg}, want: "only one of"},
		{name: "server without credentials", args: []string{"regcred", "--docker-server=r.example.io", "--from-docker-config", cfg}, want: "--docker-server goes with"},
		{name: "provider flags without provider", args: []string{"regcred", "--from-docker-config", cfg, "--provider-arg=x"}, want: "go with --from-provider"},
		{name: "provider without image", args: []string{"regcred", "--from-provider", "/bin/true"}, want: "needs an IMAGE"},
		{name: "image with docker flags", args: []string{"regcred", "--docker-username=u", "--docker-password=p", "--image=x"}, want: "--image goes with"},
		{name: "extra argument", args: []string{"regcred", "extra", "--docker-username=u", "--docker-password=p"}, want: `unexpected argument "extra"`},
		{name: "invalid name", args: []string{"Reg_Cred", "--docker-username=u", "--docker-password=p"}, want: "secret name"},
		{name: "invalid namespace", args: []string{"regcred", "-n", "a.b", "--docker-username=u", "--docker-password=p"}, want: "namespace"},
		{name: "bad output", args: []string{"regcred", "-o", "wide", "--docker-username=u", "--docker-password=p"}, want: "want yaml or json"},
		{name: "unknown flag", args: []string{"regcred", "--docker-pasword=p"}, want: "flag provided but not defined"},
		{name: "bad server", args: []string{"regcred", "--docker-server=a b", "--docker-username=u", "--docker-password=p"}, want: "docker server"},
		{name: "bad api version", args: []string{"regcred", "--from-provider", "/bin/true", "img", "--api-version=v2"}, want: "api version"},
		{name: "helpers flag without config", args: []string{"regcred", "--docker-username=u", "--docker-password=p", "--no-credential-helpers"}, want: "--no-credential-helpers goes with"},
		{name: "stdin twice", args: []string{"regcred", "--from-docker-config", "-", "--docker-password-stdin"}, want: "only one of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", append([]string{"create"}, tc.args...)...)
			if code != ExitUsage {
				t.Errorf("Command(create %q) = %d, want %d (stderr %q)", tc.args, code, ExitUsage, stderr)
			}
			if stdout != "" {
				t.Errorf("Command(create %q) wrote %q on stdout, want nothing", tc.args, stdout)
			}
			if !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("Command(create %q) stderr = %q, want one line containing %q", tc.args, stderr, tc.want)
			}
		})
	}
}

func TestCreatePasswordStdin(t *testing.T) {
	tests := []struct {
		name, stdin, want string
	}{
		{name: "trailing line break removed", stdin: "pw-from-stdin\n", want: "pw-from-stdin"},
		{name: "CRLF removed", stdin: "pw-from-stdin\r\n", want: "pw-from-stdin"},
		{name: "no line break", stdin: "pw-from-stdin", want: "pw-from-stdin"},
		{name: "only one line break removed", stdin: "pw\n\n", want: "pw\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"create", "regcred", "--docker-server=registry.example.io", "--docker-username=alice", "--docker-password-stdin", "-o", "json"}
			code, stdout, stderr := run(t, tc.stdin, args...)
			if code != ExitOK {
				t.Fatalf("Command(%q) = %d, stderr %q", args, code, stderr)
			}
			auths := decodeSecretAuths(t, []byte(stdout))
			if got := auths["registry.example.io"].Password; got != tc.want {
				t.Errorf("Command(%q) with stdin %q: password %q, want %q", args, tc.stdin, got, tc.want)
			}
		})
	}
}

func TestCreateFlagsAnywhere(t *testing.T) {
	_, want, _ := run(t, "", "create", "regcred", "--docker-username=u", "--docker-password=p")
	tests := []struct {
		name string
		args []string
	}{
		{name: "name between flags", args: []string{"create", "--docker-username=u", "regcred", "--docker-password=p"}},
		{name: "name last", args: []string{"create", "--docker-username=u", "--docker-password=p", "regcred"}},
		{name: "separate values and --", args: []string{"create", "--docker-username", "u", "--docker-password", "p", "--", "regcred"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", tc.args...)
			if code != ExitOK || stdout != want {
				t.Errorf("Command(%q) = %d, %q (stderr %q), want 0, %q", tc.args, code, stdout, stderr, want)
			}
		})
	}
}

// decodeSecretAuths decodes a Secret printed by create and returns its auths by key.
func decodeSecretAuths(t *testing.T, out []byte) map[string]Auth {
	t.Helper()
	r := Check(out, CheckOptions{ShowSecrets: true})
	if !r.OK() {
		t.Fatalf("Check(created secret) found %v", r.Findings)
	}
	auths := make(map[string]Auth)
	for _, reg := range r.Registries {
		auths[reg.rawKey] = Auth{Server: reg.rawKey, Username: reg.Username, Password: reg.Password, Email: reg.Email}
	}
	return auths
}

func TestEncodeAuth(t *testing.T) {
	got := EncodeAuth("alice", "pa:ss")
	dec, err := base64.StdEncoding.DecodeString(got)
	if err != nil || string(dec) != "alice:pa:ss" {
		t.Errorf("EncodeAuth(alice, pa:ss) = %q (decodes to %q, %v), want base64 of alice:pa:ss", got, dec, err)
	}
}
