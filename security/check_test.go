//go:build linux

package security

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
)

// writeFile writes data to dir/name with mode perm and returns the path.
func writeFile(t *testing.T, dir, name, data string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return path
}

// providerYAML is one providers[] entry of a CredentialProviderConfig.
func providerYAML(name string, matchImages []string, args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n    defaultCacheDuration: 1h\n    matchImages:\n", name)
	for _, m := range matchImages {
		fmt.Fprintf(&b, "      - %q\n", m)
	}
	if len(args) > 0 {
		b.WriteString("    args:\n")
		for _, a := range args {
			fmt.Fprintf(&b, "      - %q\n", a)
		}
	}
	return b.String()
}

func configYAML(providers ...string) string {
	return "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n" + strings.Join(providers, "")
}

// TestPullkeysCheck_BrokenPlugins_ReportedClearly is the fault row of `pullkeys check`: a
// kubelet config naming a binary that is missing, one that is not executable, and a plugin that
// prints garbage. Each is named with what is wrong, the exit status is 1, and the garbage
// (which could be a secret) is not echoed. kubelet's TestExec and TestCheckFailures
// cover the same at the library level.
func TestPullkeysCheck_BrokenPlugins_ReportedClearly(t *testing.T) {
	bin := t.TempDir()
	writeFile(t, bin, "garbage-plugin", "#!/bin/sh\necho 'this is not JSON, password=hunter2-garbage'\n", 0o755)
	writeFile(t, bin, "noexec-plugin", "#!/bin/sh\necho '{}'\n", 0o644)
	cfg := writeFile(t, t.TempDir(), "config.yaml", configYAML(
		providerYAML("missing-plugin", []string{"missing.example.io"}),
		providerYAML("noexec-plugin", []string{"noexec.example.io"}),
		providerYAML("garbage-plugin", []string{"garbage.example.io"}),
	), 0o600)
	o := run(t, binary(t, pullkeysBin), proc{
		args: []string{"check", "--config", cfg, "--bin-dir", bin, "missing.example.io/app", "noexec.example.io/app", "garbage.example.io/app"},
		env:  newEnv(t).list(),
	})
	if o.code != 1 {
		t.Errorf("pullkeys check exit %d, want 1 (problems found); stderr:\n%s", o.code, o.stderr)
	}
	noPanic(t, "pullkeys check", o)
	for _, want := range []string{
		"plugin binary not found: " + filepath.Join(bin, "missing-plugin"),
		"exec missing-plugin: cannot start plugin: no such file or directory",
		"plugin binary is not executable: " + filepath.Join(bin, "noexec-plugin"),
		"exec noexec-plugin: cannot start plugin: permission denied",
		"stdout does not start with a JSON object",
		"garbage-plugin answer: answer rejected",
		"the kubelet would not start with this config",
	} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("pullkeys check output lacks %q:\n%s", want, o.stdout)
		}
	}
	if strings.Contains(o.stdout+o.stderr, "hunter2-garbage") {
		t.Errorf("pullkeys check echoed a plugin's stdout, which may hold secrets:\n%s", o.stdout)
	}
}

// TestSecrets_PullkeysCheck_NoSecretsWithoutShowSecrets runs `pullkeys check` over the three
// real binaries (at -v=10, through successes, a service account token and failures), in text
// and JSON: without --show-secrets no password, token or service account token appears on its
// stdout or stderr; with it, the passwords do (the test is looking at the right output).
func TestSecrets_PullkeysCheck_NoSecretsWithoutShowSecrets(t *testing.T) {
	const roleA = "arn:aws:iam::123456789012:role/puller"
	var secrets secretSet
	srv := ecrtest.Start(t)
	srv.SetPasswordLength(500)
	md := gcrtest.NewMetadata()
	t.Cleanup(md.Close)
	md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeCloudPlatform}, Token: "ya29.node-token-for-check-that-is-secret"})
	secrets.add("ya29.node-token-for-check-that-is-secret")
	token := saJWT("team", "puller")
	secrets.addJWT(token)

	dockerCfg := writeDockerConfig(t, &secrets)
	// newConfig returns a kubelet config over the three binaries, with a new cache directory.
	newConfig := func() string {
		cacheDir := t.TempDir()
		ecrEntry := providerYAML(ecrBin, ecr.MatchImages(), "-v=10", "--cache-dir="+cacheDir, "--max-backoff=1ms", "--max-attempts=2") +
			"    tokenAttributes:\n      serviceAccountTokenAudience: sts.amazonaws.com\n      cacheType: ServiceAccount\n" +
			"      requireServiceAccount: false\n      optionalServiceAccountAnnotationKeys:\n        - " + ecr.AnnotationECRRoleARN + "\n"
		return writeFile(t, t.TempDir(), "config.yaml", configYAML(
			ecrEntry,
			providerYAML(gcrBin, []string{"gcr.io", "*.gcr.io", "*.pkg.dev"}, "-v=10", "--cache-dir="+cacheDir),
			providerYAML(dockercfgBin, []string{"registry.example.io", "*.corp.example.io", "docker.io"}, "-v=10", "--config="+dockerCfg),
		), 0o600)
	}
	cfg := newConfig()
	tokenFile := writeFile(t, t.TempDir(), "token", token, 0o600)
	env := newEnv(t).with(srv.Env()...).with("GCE_METADATA_HOST=" + md.Host())
	images := []string{ecrImage, "public.ecr.aws/team/app", "gcr.io/p/app", "registry.example.io/app", "build.corp.example.io/app", "nginx"}

	check := func(name, cfg string, args ...string) outcome {
		args = append([]string{"check", "--config", cfg, "--bin-dir", filepath.Dir(binary(t, ecrBin)), "-v=10"}, args...)
		o := run(t, binary(t, pullkeysBin), proc{args: append(args, images...), env: env.list()})
		noPanic(t, "pullkeys "+name, o)
		return o
	}
	var outs []outcome
	var names []string
	for _, v := range []struct {
		name string
		args []string
	}{
		{"check", nil},
		{"check -o json", []string{"-o", "json"}},
		{"check with a service account", []string{"--service-account-token-file", tokenFile, "--service-account-annotation", ecr.AnnotationECRRoleARN + "=" + roleA}},
	} {
		o := check(v.name, cfg, v.args...)
		if o.code != 0 {
			t.Errorf("pullkeys %s: exit %d, want 0; stdout:\n%s\nstderr:\n%s", v.name, o.code, o.stdout, o.stderr)
		}
		outs, names = append(outs, o), append(names, v.name)
	}
	srv.Inject(ecrtest.GetAuthorizationToken, ecrtest.WrongType, -1)
	srv.Inject(ecrtest.AssumeRoleWithWebIdentity, ecrtest.WrongType, -1)
	md.SetScopes("default", gcrtest.ScopeLoggingWrite)
	failing := check("check with failing plugins", newConfig(), "--no-kubelet-cache", "--service-account-token-file", tokenFile,
		"--service-account-annotation", ecr.AnnotationECRRoleARN+"="+roleA)
	if failing.code != 1 {
		t.Errorf("pullkeys check with failing plugins: exit %d, want 1", failing.code)
	}
	outs, names = append(outs, failing), append(names, "check with failing plugins")

	ecrSecrets(&secrets, srv.Requests(""))
	for _, tok := range md.Issued() {
		secrets.add(tok)
	}
	for i, o := range outs {
		secrets.check(t, "pullkeys "+names[i]+": stdout", o.stdout)
		secrets.check(t, "pullkeys "+names[i]+": stderr", o.stderr)
	}
	if !strings.Contains(outs[0].stdout, "********") {
		t.Errorf("pullkeys check shows no masked password; the test is not looking at credentials:\n%s", outs[0].stdout)
	}

	shown := check("check --show-secrets", cfg, "--show-secrets", "--no-kubelet-cache")
	if !secrets.found(shown.stdout) {
		t.Errorf("pullkeys check --show-secrets shows none of the known secrets; the secret set is incomplete:\n%s", shown.stdout)
	}
}
