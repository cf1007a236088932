package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/kubelet"
)

func TestRunImages(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	pulled := filepath.Join(root, kubelet.ImageManagerDir, "pulled")
	if err := os.MkdirAll(pulled, 0o700); err != nil {
		t.Fatal(err)
	}
	for ref, content := range map[string]string{
		"sha256:aaaa": `{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1beta1","lastUpdatedTime":"2026-01-02T03:04:05Z","imageRef":"sha256:aaaa","credentialMapping":{"registry.example/app":{"nodePodsAccessible":true},"registry.example/other":{"kubernetesSecrets":[{"uid":"u1","namespace":"team","name":"regcred","credentialHash":"h"}]}}}`,
		"sha256:cccc": `{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v9","lastUpdatedTime":"2026-01-02T03:04:05Z","imageRef":"sha256:cccc"}`,
	} {
		if err := os.WriteFile(filepath.Join(pulled, kubelet.RecordFileName(ref)), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		want     []string
		notWant  []string
	}{
		{name: "all", args: []string{"images", "--root-dir", root}, want: []string{
			"registry.example/app: node credentials or anonymous: every pod on the node may use it",
			"registry.example/other: Secret team/regcred (uid u1)",
			"kubelet.config.k8s.io/v9: a version pullkeys does not know",
			"2 pulled record(s), 0 pull(s) in flight",
		}},
		{name: "one image, tag ignored", args: []string{"images", "--root-dir", root, "registry.example/other:v3"}, want: []string{"registry.example/other: Secret"}, notWant: []string{"registry.example/app:"}},
		{name: "json", args: []string{"images", "--root-dir", root, "-o", "json"}, want: []string{`"access": "pods"`, `"secrets": [`}},
		{name: "no records", args: []string{"images", "--root-dir", t.TempDir()}, wantCode: ExitProblems},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", tc.args...)
			if code != tc.wantCode {
				t.Errorf("Run(%q) = %d, want %d\n%s%s", tc.args, code, tc.wantCode, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("Run(%q) stdout lacks %q:\n%s", tc.args, w, stdout)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(stdout, w) {
					t.Errorf("Run(%q) stdout has %q:\n%s", tc.args, w, stdout)
				}
			}
		})
	}
}
