package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/kubelet"
)

// TestRunCheckPull: check shows the pull policy and, with --kubelet-config, what the node's
// verification policy lets a pod without credentials do with an image already present.
func TestRunCheckPull(t *testing.T) {
	t.Parallel()
	config, bin := setup(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const head = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
	allow := write("allow.yaml", head+"imagePullCredentialsVerificationPolicy: NeverVerifyAllowlistedImages\npreloadedImagesVerificationAllowlist: [\"team.other.org/*\"]\n")
	always := write("always.yaml", head+"imagePullCredentialsVerificationPolicy: AlwaysVerify\n")
	invalid := write("invalid.yaml", head+"preloadedImagesVerificationAllowlist: [\"team.other.org/*\"]\n")

	type pull struct{ Policy, Source, Preloaded, Allowlist string }
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     pull
		wantText string
	}{
		{name: "no tag defaults to Always", args: []string{"nginx"}, want: pull{Policy: kubelet.PullAlways, Source: "default", Preloaded: kubelet.PullImage},
			wantText: "pull policy Always (the API server's default for this image)"},
		{name: "tag defaults to IfNotPresent, preloaded image used", args: []string{"nginx:1.27"}, want: pull{Policy: kubelet.PullIfNotPresent, Source: "default", Preloaded: kubelet.UseImage},
			wantText: "pre-pulled (not by the kubelet): uses the image on the node, no registry contact"},
		{name: "allowlisted", args: []string{"--kubelet-config", allow, "team.other.org/app:v1"}, want: pull{Policy: kubelet.PullIfNotPresent, Source: "default", Preloaded: kubelet.UseImage, Allowlist: "team.other.org/*"},
			wantText: `allowlisted by "team.other.org/*"`},
		{name: "not allowlisted, Never", args: []string{"--kubelet-config", allow, "--pull-policy", "Never", "other.other.org/app:v1"}, want: pull{Policy: kubelet.PullNever, Source: "given", Preloaded: kubelet.FailNever},
			wantText: "fails: ErrImageNeverPull"},
		{name: "AlwaysVerify pulls with the node's credentials", args: []string{"--kubelet-config", always, "docker.io/library/nginx:1.27"}, want: pull{Policy: kubelet.PullIfNotPresent, Source: "default", Preloaded: kubelet.PullImage},
			wantText: "pre-pulled (not by the kubelet): pulls again with the node's credentials (1 from providers)"},
		{name: "invalid kubelet config", args: []string{"--kubelet-config", invalid, "nginx:1.27"}, wantCode: ExitProblems, want: pull{Policy: kubelet.PullIfNotPresent, Source: "default", Preloaded: kubelet.UseImage},
			wantText: "error: " + invalid + ": preloadedImagesVerificationAllowlist: Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"check", "--config", config, "--bin-dir", bin}, tt.args...)
			code, stdout, stderr := run(t, "", args...)
			if code != tt.wantCode || !strings.Contains(stdout, tt.wantText) {
				t.Errorf("Run(%q) = %d, want %d and text containing %q\nstdout: %s\nstderr: %s", args, code, tt.wantCode, tt.wantText, stdout, stderr)
			}
			code, stdout, _ = run(t, "", append(args, "-o", "json")...)
			var report kubelet.Report
			if err := json.Unmarshal([]byte(stdout), &report); err != nil || len(report.Images) != 1 || report.Images[0].Pull == nil {
				t.Fatalf("Run(%q -o json) = %d, %v:\n%s", args, code, err, stdout)
			}
			p := report.Images[0].Pull
			got := pull{Policy: p.Policy, Source: p.PolicySource, Preloaded: p.Verification.Preloaded, Allowlist: p.Verification.AllowlistEntry}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Run(%q -o json) pull (-want +got):\n%s", args, diff)
			}
		})
	}

	code, _, stderr := run(t, "", "check", "--config", config, "--bin-dir", bin, "--pull-policy", "Sometimes", "nginx")
	if code != ExitUsage || !strings.Contains(stderr, `pull policy "Sometimes"`) {
		t.Errorf("Run(check --pull-policy Sometimes) = %d, %q; want %d", code, stderr, ExitUsage)
	}
}
