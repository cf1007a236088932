// Package mirrortest holds what the tests of mirrors share: containerd hosts directories
// (certs.d) and the hosts.toml files in them, for --containerd-hosts-dir, and the check of a
// plugin run's outcome.
package mirrortest

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/providers"
)

// HostsDir writes files (an upstream's directory, as containerd names it: "docker.io",
// "r.example.com_5000_", "_default" → the content of its hosts.toml) under a new temporary
// directory and returns that directory.
func HostsDir(t testing.TB, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for dir, content := range files {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(HostsFile(root, dir), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// HostsFile returns the path of the hosts.toml for the upstream directory dir under root.
func HostsFile(root, dir string) string {
	return filepath.Join(root, dir, "hosts.toml")
}

// Safe returns a hosts.toml in which the mirror at mirrorURL is containerd's only host and its
// server, so that the mirror alone receives the credential.
//
// A mirrorURL with a path ("https://mirror.corp.example/v2/dockerhub") is the registry API's
// root as it is, so both sections set override_path; for a bare host containerd adds /v2.
func Safe(mirrorURL string) string {
	return "server = " + quote(mirrorURL) + "\n" + overridePath(mirrorURL, "") + NoServer(mirrorURL)
}

// NoServer returns a hosts.toml with the mirror at mirrorURL as its only host and no server
// line, so that containerd falls back to the upstream, which receives the credential too.
// override_path is set as for [Safe].
func NoServer(mirrorURL string) string {
	return "[host." + quote(mirrorURL) + "]\n" + overridePath(mirrorURL, "  ")
}

func quote(s string) string { return `"` + s + `"` }

func overridePath(mirrorURL, indent string) string {
	if u, err := url.Parse(mirrorURL); err == nil && strings.Trim(u.Path, "/") != "" {
		return indent + "override_path = true\n"
	}
	return ""
}

// Answer checks the outcome of a plugin run (its exit status, stdout and stderr) and returns
// the answer it wrote. With wantInErr empty, the run must have succeeded with one response of
// apiVersion credentialprovider.kubelet.k8s.io/v1; otherwise it must have failed (non-zero
// status, nothing on stdout) with wantInErr on stderr, and Answer returns nil.
func Answer(t testing.TB, code int, stdout, stderr, wantInErr string) *providers.Response {
	t.Helper()
	if wantInErr != "" {
		if code == 0 || stdout != "" || !strings.Contains(stderr, wantInErr) {
			t.Fatalf("exit %d, stdout %q, stderr %q; want failure naming %q", code, stdout, stderr, wantInErr)
		}
		return nil
	}
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	resp, err := providers.DecodeResponse([]byte(stdout), providers.APIVersionV1)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
