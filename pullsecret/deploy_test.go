package pullsecret

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/internal/plugintest"
)

// deployDir is the CronJob example that refreshes an ECR pull secret.
var deployDir = filepath.Join("..", "deploy", "ecr-pull-secret-refresher")

// refresher is the example's objects, decoded strictly into the API types.
type refresher struct {
	sa      corev1.ServiceAccount
	role    rbacv1.Role
	binding rbacv1.RoleBinding
	cron    batchv1.CronJob
}

func loadRefresher(t *testing.T) *refresher {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(deployDir, "refresher.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var r refresher
	seen := map[string]int{}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			t.Fatalf("refresher.yaml: %v", err)
		}
		if string(bytes.TrimSpace(js)) == "null" {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &meta); err != nil {
			t.Fatal(err)
		}
		var into any
		switch meta.APIVersion + " " + meta.Kind {
		case "v1 ServiceAccount":
			into = &r.sa
		case "rbac.authorization.k8s.io/v1 Role":
			into = &r.role
		case "rbac.authorization.k8s.io/v1 RoleBinding":
			into = &r.binding
		case "batch/v1 CronJob":
			into = &r.cron
		default:
			t.Fatalf("refresher.yaml: unexpected %s %s", meta.APIVersion, meta.Kind)
		}
		seen[meta.Kind]++
		strict, err := sigsjson.UnmarshalStrict(js, into)
		if err != nil || len(strict) > 0 {
			t.Fatalf("refresher.yaml: %s does not decode strictly: %v %v", meta.Kind, err, strict)
		}
	}
	for _, kind := range []string{"ServiceAccount", "Role", "RoleBinding", "CronJob"} {
		if seen[kind] != 1 {
			t.Errorf("refresher.yaml holds %d %s, want 1", seen[kind], kind)
		}
	}
	return &r
}

// containerEnv returns the literal env values of a container.
func containerEnv(c corev1.Container) map[string]string {
	env := make(map[string]string)
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

func TestDeployRefresherManifests(t *testing.T) {
	r := loadRefresher(t)
	ns := r.sa.Namespace
	for what, got := range map[string]string{"Role": r.role.Namespace, "RoleBinding": r.binding.Namespace, "CronJob": r.cron.Namespace} {
		if got != ns || ns == "" {
			t.Errorf("%s namespace %q, want the ServiceAccount's %q", what, got, ns)
		}
	}
	spec := r.cron.Spec.JobTemplate.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("CronJob has %d containers, want 1", len(spec.Containers))
	}
	secretName := containerEnv(spec.Containers[0])["SECRET_NAME"]

	// RBAC: get/create/update/patch of that one Secret, nothing else.
	if len(r.role.Rules) != 1 {
		t.Fatalf("Role has %d rules, want 1", len(r.role.Rules))
	}
	rule := r.role.Rules[0]
	if !slices.Equal(rule.APIGroups, []string{""}) || !slices.Equal(rule.Resources, []string{"secrets"}) ||
		!slices.Equal(rule.ResourceNames, []string{secretName}) || secretName == "" {
		t.Errorf("Role rule = %+v, want secrets named %q in the core group only", rule, secretName)
	}
	for _, v := range rule.Verbs {
		if !slices.Contains([]string{"get", "create", "update", "patch"}, v) {
			t.Errorf("Role allows %q, want only get, create, update, patch", v)
		}
	}
	if ref := r.binding.RoleRef; ref.Kind != "Role" || ref.Name != r.role.Name || ref.APIGroup != rbacv1.GroupName {
		t.Errorf("RoleBinding roleRef = %+v, want Role %s", ref, r.role.Name)
	}
	if len(r.binding.Subjects) != 1 || r.binding.Subjects[0].Kind != "ServiceAccount" ||
		r.binding.Subjects[0].Name != r.sa.Name || r.binding.Subjects[0].Namespace != ns {
		t.Errorf("RoleBinding subjects = %+v, want ServiceAccount %s/%s", r.binding.Subjects, ns, r.sa.Name)
	}

	// The CronJob: every 6 hours, one at a time, as the ServiceAccount.
	if r.cron.Spec.Schedule != "0 */6 * * *" {
		t.Errorf("CronJob schedule %q, want every 6 hours", r.cron.Spec.Schedule)
	}
	if r.cron.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("CronJob concurrencyPolicy %q, want Forbid", r.cron.Spec.ConcurrencyPolicy)
	}
	if spec.ServiceAccountName != r.sa.Name {
		t.Errorf("CronJob serviceAccountName %q, want %q", spec.ServiceAccountName, r.sa.Name)
	}
	script := strings.Join(spec.Containers[0].Args, "\n")
	for _, want := range []string{
		`pullkeys secret create "$SECRET_NAME"`,
		"--from-provider /usr/local/bin/ecr-credential-provider $IMAGES",
		"kubectl apply --server-side",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("CronJob script\n%s\nwant it to contain %q", script, want)
		}
	}
}

// TestDeployRefresherCommand runs the CronJob's pullkeys command line, env substituted, with
// the real ECR credential provider against a fake of ECR on loopback, and checks the Secret it
// prints: what kubectl apply gets.
func TestDeployRefresherCommand(t *testing.T) {
	r := loadRefresher(t)
	c := r.cron.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	env := containerEnv(c)
	env["NAMESPACE"] = r.cron.Namespace // from the downward API

	script := strings.Join(c.Args, "\n")
	m := regexp.MustCompile(`(?s)\$\((pullkeys secret create .*?)\)`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("no $(pullkeys secret create …) in the CronJob script:\n%s", script)
	}
	line := strings.ReplaceAll(m[1], "\\\n", " ")
	line = os.Expand(line, func(name string) string { return env[name] })
	words := strings.Fields(strings.ReplaceAll(line, `"`, ""))
	plugin := plugintest.Binary(t, "ecr")
	for i, w := range words {
		if w == "/usr/local/bin/ecr-credential-provider" {
			words[i] = plugin
		}
	}

	srv := ecrtest.Start(t)
	srv.Setenv(t)
	code, stdout, stderr := run(t, "", words[2:]...)
	if code != ExitOK || stderr != "" {
		t.Fatalf("%q = %d, stderr %q", words, code, stderr)
	}
	if srv.Calls(ecrtest.GetAuthorizationToken) != 1 {
		t.Errorf("%q called GetAuthorizationToken %d times, want 1", words, srv.Calls(ecrtest.GetAuthorizationToken))
	}
	images := strings.Fields(env["IMAGES"])
	report := Check([]byte(stdout), CheckOptions{Images: images})
	if !report.OK() || report.Name != env["SECRET_NAME"] || report.Namespace != r.cron.Namespace {
		t.Fatalf("the CronJob's Secret: %+v", report)
	}
	for _, reg := range report.Registries {
		if reg.Username != "AWS" {
			t.Errorf("registry %s user %q, want AWS", reg.Key, reg.Username)
		}
	}
	for _, img := range report.Images {
		if len(img.Uses) != 1 {
			t.Errorf("image %s served by %q, want one entry", img.Image, img.Uses)
		}
	}
}
