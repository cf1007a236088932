package deploy

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/pullkeys/pullkeys/cmd/pullkeys/cli"
	"github.com/pullkeys/pullkeys/internal/plugintest"
	"github.com/pullkeys/pullkeys/prepull/critest"
	"github.com/pullkeys/pullkeys/providers"
)

// fakeProviderName is the name under which this test binary acts as a credential provider
// answering for registry.example.io (plugintest's link name for the mode "deploy").
const fakeProviderName = plugintest.Prefix + "deploy"

func TestMain(m *testing.M) {
	plugintest.Main(m, func(mode string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
		return providers.Execute(context.Background(), providers.Plugin{
			Name: fakeProviderName,
			New: func(context.Context, *slog.Logger) (providers.Provider, error) {
				return providers.ProviderFunc(func(context.Context, *providers.Request) (*providers.Response, error) {
					return &providers.Response{CacheKeyType: providers.CacheKeyRegistry,
						Auth: map[string]providers.AuthConfig{"registry.example.io": {Username: "node", Password: "node-password"}}}, nil
				}), nil
			},
		}, args, stdin, stdout, stderr)
	})
}

// TestPrepullDaemonSet runs the prepull DaemonSet's container and its readiness probe, with
// their own arguments, on a fake node: the runtime socket is a fake CRI image service, the
// provider directory holds a config and a provider, the images file is the ConfigMap's.
func TestPrepullDaemonSet(t *testing.T) {
	m := loadManifests(t)
	var c corev1.Container
	var spec corev1.PodSpec
	for _, ds := range m.daemonSets {
		if ds.Name == "pullkeys-prepull" {
			spec = ds.Spec.Template.Spec
			c = spec.Containers[0]
		}
	}
	if c.Name == "" {
		t.Fatal("no DaemonSet pullkeys-prepull under deploy/")
	}
	if !spec.HostNetwork || spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("pod: hostNetwork %v, automountServiceAccountToken %v: want host network (the providers reach the metadata server) and no API token", spec.HostNetwork, spec.AutomountServiceAccountToken)
	}

	// The node: each mount is a directory of its own.
	mounts := map[string]string{} // mountPath → host directory
	var images []string
	for _, vm := range c.VolumeMounts {
		dir := t.TempDir()
		mounts[vm.MountPath] = dir
		for _, v := range spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			cm := m.configMaps["kube-system/"+v.ConfigMap.Name]
			if cm == nil {
				t.Fatalf("volume %s: no ConfigMap %s", v.Name, v.ConfigMap.Name)
			}
			for name, data := range cm.Data {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
				for _, line := range strings.Split(data, "\n") {
					if line, _, _ = strings.Cut(line, "#"); strings.TrimSpace(line) != "" {
						images = append(images, strings.TrimSpace(line))
					}
				}
			}
		}
	}
	host := func(arg string) string {
		for mp, dir := range mounts {
			arg = strings.ReplaceAll(arg, mp+"/", dir+"/")
		}
		return arg
	}
	var args []string
	every := false
	for _, a := range c.Command[1:] {
		args = append(args, host(a))
	}
	for _, a := range c.Args {
		if strings.HasPrefix(a, "--every=") {
			every = true
			continue // run once
		}
		args = append(args, host(a))
	}
	if !every {
		t.Errorf("args %q: want --every, so that images removed by garbage collection come back", c.Args)
	}
	if c.Command[0] != "/pullkeys/bin/pullkeys" || len(args) == 0 || args[0] != "prepull" {
		t.Fatalf("command %q args %q: want /pullkeys/bin/pullkeys prepull", c.Command, c.Args)
	}
	endpoint := flagValue(args, "--runtime-endpoint")
	config := flagValue(args, "--config")
	binDir := flagValue(args, "--bin-dir")
	if !strings.HasPrefix(endpoint, "unix://") || config == "" || binDir == "" {
		t.Fatalf("args %q: want --runtime-endpoint=unix://…, --config and --bin-dir under the mounts", args)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(binDir, fakeProviderName)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, []byte("apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n- name: "+fakeProviderName+
		"\n  matchImages: [\"registry.example.io\"]\n  defaultCacheDuration: 1h\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var registry []critest.Image
	for _, img := range images {
		ci := critest.Image{Ref: img, Size: 1}
		if strings.HasPrefix(img, "registry.example.io/") {
			ci.Username, ci.Password = "node", "node-password"
		}
		registry = append(registry, ci)
	}
	fake := critest.NewAt(t, strings.TrimPrefix(endpoint, "unix://"), registry)

	var env []string
	for _, e := range c.Env {
		env = append(env, e.Name+"="+host(e.Value+"/"))
	}
	opts := cli.Options{Environ: func() []string { return append(os.Environ(), env...) }}
	run := func(args []string) (int, string) {
		var out strings.Builder
		code := cli.RunWith(context.Background(), opts, args, strings.NewReader(""), &out, &out)
		return code, out.String()
	}
	probe := c.ReadinessProbe
	if probe == nil || probe.Exec == nil || !slices.Contains(probe.Exec.Command, "--check") {
		t.Fatalf("readiness probe %+v: want pullkeys prepull --check", probe)
	}
	var probeArgs []string
	for _, a := range probe.Exec.Command[1:] {
		probeArgs = append(probeArgs, host(a))
	}
	if code, out := run(probeArgs); code != cli.ExitProblems {
		t.Errorf("readiness probe before the pull = %d, want %d (not ready)\n%s", code, cli.ExitProblems, out)
	}
	if code, out := run(args); code != cli.ExitOK {
		t.Fatalf("pullkeys %q = %d, want %d\n%s", args, code, cli.ExitOK, out)
	}
	if diff := cmp.Diff(images, fake.Pulls()); diff != "" {
		t.Errorf("pulls (-want +got):\n%s", diff)
	}
	if code, out := run(probeArgs); code != cli.ExitOK {
		t.Errorf("readiness probe after the pull = %d, want %d (ready)\n%s", code, cli.ExitOK, out)
	}
}
