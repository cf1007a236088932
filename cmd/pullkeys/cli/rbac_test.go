package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/pullkeys/pullkeys/kubelet"
)

// TestRunValidateRBAC: validate names the audiences of providers with tokenAttributes and
// --print-rbac prints a ClusterRole and ClusterRoleBinding that decode strictly.
func TestRunValidateRBAC(t *testing.T) {
	t.Parallel()
	_, bin := setup(t)
	const entry = "- name: %s\n  matchImages: [\"*.example.io\"]\n  defaultCacheDuration: 5m\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"
	token := func(aud string) string {
		return "  tokenAttributes:\n    serviceAccountTokenAudience: " + aud + "\n    cacheType: ServiceAccount\n    requireServiceAccount: true\n"
	}
	head := "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n"
	config := filepath.Join(t.TempDir(), "config.yaml")
	body := head + strings.ReplaceAll(entry, "%s", "fakeplugin-ok") + token("sts.amazonaws.com") +
		strings.ReplaceAll(entry, "%s", "fakeplugin-fail") + token("https://registry.example.io/aud")
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "", "validate", "--config", config, "--bin-dir", bin)
	if code != ExitOK || !strings.Contains(stdout, `rbac: fakeplugin-ok request service account tokens for audience "sts.amazonaws.com"`) {
		t.Errorf("validate = %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = run(t, "", "validate", "--config", config, "-o", "json")
	var res validateResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != ExitOK || len(res.TokenAudiences) != 2 || res.TokenAudiences[1].Audience != "sts.amazonaws.com" {
		t.Errorf("validate -o json = %d, %v, %+v", code, err, res.TokenAudiences)
	}

	code, stdout, stderr = run(t, "", "validate", "--config", config, "--print-rbac")
	if code != ExitOK {
		t.Fatalf("validate --print-rbac = %d\n%s", code, stderr)
	}
	docs := strings.Split(stdout, "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("validate --print-rbac: %d documents, want 2:\n%s", len(docs), stdout)
	}
	var role rbacv1.ClusterRole
	var binding rbacv1.ClusterRoleBinding
	for i, into := range []any{&role, &binding} {
		js, err := yaml.YAMLToJSON([]byte(docs[i]))
		if err != nil {
			t.Fatal(err)
		}
		strict, err := sigsjson.UnmarshalStrict(js, into)
		if err != nil || len(strict) > 0 {
			t.Fatalf("document %d: %v %v\n%s", i, err, strict, docs[i])
		}
	}
	var audiences []string
	for _, r := range role.Rules {
		if len(r.Verbs) != 1 || r.Verbs[0] != kubelet.TokenAudienceVerb || len(r.APIGroups) != 1 || r.APIGroups[0] != "" {
			t.Errorf("rule %+v: want verb %s in the core group", r, kubelet.TokenAudienceVerb)
		}
		audiences = append(audiences, r.Resources...)
	}
	if strings.Join(audiences, ",") != "https://registry.example.io/aud,sts.amazonaws.com" {
		t.Errorf("audiences %q", audiences)
	}
	if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 || binding.Subjects[0].Name != "system:nodes" || binding.Subjects[0].Kind != "Group" {
		t.Errorf("binding %+v: want the role bound to group system:nodes", binding)
	}

	noToken := filepath.Join(t.TempDir(), "plain.yaml")
	if err := os.WriteFile(noToken, []byte(head+strings.ReplaceAll(entry, "%s", "fakeplugin-ok")), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "", "validate", "--config", noToken, "--print-rbac"); code != ExitProblems || !strings.Contains(stderr, "no provider") {
		t.Errorf("validate --print-rbac without tokenAttributes = %d, %q", code, stderr)
	}
}
