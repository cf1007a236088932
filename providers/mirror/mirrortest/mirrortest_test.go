package mirrortest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/mirror"
)

func TestHostsFiles(t *testing.T) {
	const (
		withPath = "https://mirror.corp.example/v2/dockerhub"
		bare     = "https://mirror.corp.example"
	)
	tests := []struct {
		name      string
		content   string
		want      string
		wantLeaks []string // hosts besides mirror.corp.example that receive the credential
	}{
		{name: "safe, mirror with a path", content: Safe(withPath),
			want: "server = \"" + withPath + "\"\noverride_path = true\n[host.\"" + withPath + "\"]\n  override_path = true\n"},
		{name: "safe, bare mirror", content: Safe(bare),
			want: "server = \"" + bare + "\"\n[host.\"" + bare + "\"]\n"},
		{name: "no server, mirror with a path", content: NoServer(withPath),
			want:      "[host.\"" + withPath + "\"]\n  override_path = true\n",
			wantLeaks: []string{mirror.DockerHubServer}},
		{name: "no server, bare mirror", content: NoServer(bare),
			want:      "[host.\"" + bare + "\"]\n",
			wantLeaks: []string{mirror.DockerHubServer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.content); diff != "" {
				t.Errorf("hosts.toml (-want +got):\n%s", diff)
			}
			hs, err := mirror.LoadHosts(HostsDir(t, map[string]string{"docker.io": tt.content}), "docker.io")
			if err != nil || hs.ParseError != "" {
				t.Fatalf("LoadHosts: %v, parse error %q", err, hs.ParseError)
			}
			var leaks []string
			for _, h := range hs.Leaks("mirror.corp.example") {
				leaks = append(leaks, h.Host)
			}
			if diff := cmp.Diff(tt.wantLeaks, leaks); diff != "" {
				t.Errorf("Leaks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHostsDir(t *testing.T) {
	files := map[string]string{"docker.io": "a", "r.example.com_5000_": "b", "_default": ""}
	root := HostsDir(t, files)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(files) {
		t.Errorf("%s holds %d entries, want %d", root, len(entries), len(files))
	}
	for dir, want := range files {
		got, err := os.ReadFile(HostsFile(root, dir))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q (%v), want %q", HostsFile(root, dir), got, err, want)
		}
	}
}

// fatalTB records the first Fatal of a helper and stops it.
type fatalTB struct {
	testing.TB
	msg string
}

type stopped struct{}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	panic(stopped{})
}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(stopped{})
}

func TestAnswer(t *testing.T) {
	const ok = `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","cacheKeyType":"Registry","auth":{"docker.io":{"username":"u","password":"p"}}}`
	tests := []struct {
		name      string
		code      int
		stdout    string
		stderr    string
		wantInErr string
		wantFatal string                          // "" when Answer accepts the run
		wantAuth  map[string]providers.AuthConfig // nil: no response returned
	}{
		{name: "success", stdout: ok, wantAuth: map[string]providers.AuthConfig{"docker.io": {Username: "u", Password: "p"}}},
		{name: "success expected, failed", code: 1, stderr: "boom", wantFatal: `exit 1, stderr "boom"`},
		{name: "success expected, not a response", stdout: "hello", wantFatal: "decode response"},
		{name: "failure", code: 1, stderr: "plugin: mirror is not served", wantInErr: "not served"},
		{name: "failure expected, succeeded", stdout: ok, wantInErr: "not served", wantFatal: "want failure naming"},
		{name: "failure expected, wrote stdout", code: 1, stdout: ok, stderr: "not served", wantInErr: "not served", wantFatal: "want failure naming"},
		{name: "failure expected, another error", code: 1, stderr: "timeout", wantInErr: "not served", wantFatal: "want failure naming"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := &fatalTB{TB: t}
			var resp *providers.Response
			func() {
				defer func() {
					if r := recover(); r != nil {
						if _, ok := r.(stopped); !ok {
							panic(r)
						}
					}
				}()
				resp = Answer(tb, tt.code, tt.stdout, tt.stderr, tt.wantInErr)
			}()
			if (tt.wantFatal == "") != (tb.msg == "") || !strings.Contains(tb.msg, tt.wantFatal) {
				t.Errorf("Answer(%d, %q, %q, %q) stopped the test with %q, want %q", tt.code, tt.stdout, tt.stderr, tt.wantInErr, tb.msg, tt.wantFatal)
			}
			var got map[string]providers.AuthConfig
			if resp != nil {
				got = resp.Auth
			}
			if diff := cmp.Diff(tt.wantAuth, got); diff != "" {
				t.Errorf("Answer(%d, %q, %q, %q) auth (-want +got):\n%s", tt.code, tt.stdout, tt.stderr, tt.wantInErr, diff)
			}
		})
	}
}
