package deploy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/pullkeys/pullkeys/acr"
	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/deploy/installer"
	"github.com/pullkeys/pullkeys/dockercfg"
	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/mirror"
)

// repoRoot is the repository's root, seen from this directory.
const repoRoot = ".."

// document is one YAML or JSON document of a file under deploy/.
type document struct {
	file       string // relative to deploy/
	index      int    // among the file's documents
	yaml       []byte
	json       []byte
	apiVersion string
	kind       string
}

func (d document) String() string {
	return fmt.Sprintf("%s (document %d, %s)", d.file, d.index, d.kind)
}

// loadDocuments reads every *.yaml, *.yml and *.json file under deploy/.
func loadDocuments(t *testing.T) []document {
	t.Helper()
	var docs []document
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		if strings.HasSuffix(path, ".policy.json") {
			return nil // IAM policies: TestMirrorExamples
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for i := 0; ; i++ {
			raw, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			js, err := yaml.YAMLToJSONStrict(raw)
			if err != nil {
				return fmt.Errorf("%s: document %d: %w", path, i, err)
			}
			if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
				continue
			}
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &meta); err != nil {
				return fmt.Errorf("%s: document %d: %w", path, i, err)
			}
			docs = append(docs, document{file: path, index: i, yaml: raw, json: js, apiVersion: meta.APIVersion, kind: meta.Kind})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// credentialProviderConfig is one CredentialProviderConfig found under deploy/: a file, or
// a key of a ConfigMap.
type credentialProviderConfig struct {
	name string // file, or file:key
	data []byte
	cfg  *kubelet.Config
}

func isCredentialProviderConfig(apiVersion, kind string) bool {
	return kind == kubelet.ConfigKind && strings.HasPrefix(apiVersion, kubelet.ConfigGroup+"/")
}

// credentialProviderConfigs returns every CredentialProviderConfig under deploy/, each read
// and validated as pullkeys validate and the kubelet do: errors and warnings fail the test.
func credentialProviderConfigs(t *testing.T) []credentialProviderConfig {
	t.Helper()
	var out []credentialProviderConfig
	add := func(name string, data []byte) {
		path := filepath.Join(t.TempDir(), filepath.Base(strings.ReplaceAll(name, ":", "-")))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, problems := kubelet.LoadConfig(path, "")
		for _, p := range problems {
			t.Errorf("%s: pullkeys validate: %s", name, p)
		}
		out = append(out, credentialProviderConfig{name: name, data: data, cfg: cfg})
	}
	for _, d := range loadDocuments(t) {
		switch {
		case isCredentialProviderConfig(d.apiVersion, d.kind):
			add(d.file, d.yaml)
		case d.apiVersion == "v1" && d.kind == "ConfigMap":
			var cm corev1.ConfigMap
			decodeStrict(t, d, &cm)
			for key, value := range cm.Data {
				var meta struct{ APIVersion, Kind string }
				if err := yaml.Unmarshal([]byte(value), &meta); err == nil && isCredentialProviderConfig(meta.APIVersion, meta.Kind) {
					add(d.file+":"+key, []byte(value))
				}
			}
		}
	}
	return out
}

// ourBinaries are the commands of this repository, by name.
func ourBinaries(t *testing.T) map[string]providers.Plugin {
	t.Helper()
	plugins := map[string]providers.Plugin{
		"acr-credential-provider":       acr.Plugin(),
		"ecr-credential-provider":       ecr.Plugin(),
		"gcr-credential-provider":       gcr.Plugin(),
		"dockercfg-credential-provider": dockercfg.Plugin(),
	}
	for name := range plugins {
		if _, err := os.Stat(filepath.Join(repoRoot, "cmd", name, "main.go")); err != nil {
			t.Fatalf("cmd/%s: %v", name, err)
		}
	}
	return plugins
}

func TestCredentialProviderConfigs(t *testing.T) {
	configs := credentialProviderConfigs(t)
	var names []string
	for _, c := range configs {
		names = append(names, c.name)
	}
	sort.Strings(names)
	// Guards the walk itself: a renamed directory must not make the checks pass on nothing.
	for _, want := range []string{
		"aks/credential-provider-config-workload-identity.yaml",
		"aks/credential-provider-config.yaml",
		"daemonset/configmap.yaml:config.yaml",
		"dockercfg/credential-provider-config.yaml",
		"eks/credential-provider-config-pod-identity.yaml",
		"eks/credential-provider-config.yaml",
		"gke/credential-provider-config-workload-identity.yaml",
		"gke/credential-provider-config.yaml",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("no CredentialProviderConfig %s among %v", want, names)
		}
	}

	plugins := ourBinaries(t)
	for _, c := range configs {
		if isPeer(c) {
			continue // TestPeerConfigs
		}
		for _, p := range c.cfg.Providers {
			t.Run(c.name+"/"+p.Name, func(t *testing.T) {
				plug, ok := plugins[p.Name]
				if !ok {
					t.Fatalf("provider %q is not a binary of this repository", p.Name)
				}
				// The binary's own flag parsing, up to --help: every arg must be one of its flags
				// with a valid value, in the --flag=value form the kubelet passes.
				var stdout, stderr bytes.Buffer
				args := append(slices.Clone(p.Args), "--help")
				if code := providers.Execute(context.Background(), plug, args, strings.NewReader(""), &stdout, &stderr); code != 0 {
					t.Errorf("%s %q: exit %d: %s", p.Name, p.Args, code, stderr.String())
				}
				for _, a := range p.Args {
					if !strings.HasPrefix(a, "--") || !strings.Contains(a, "=") {
						t.Errorf("arg %q: write flags as --flag=value, one args element each", a)
					}
				}
			})
		}
	}
}

// isPeer reports whether c is a peer's kubelet config entry, under deploy/peers.
func isPeer(c credentialProviderConfig) bool {
	return strings.HasPrefix(c.name, "peers"+string(filepath.Separator))
}

// peerPlugins are the peers' binary names, each with the plugin that takes its place.
func peerPlugins() map[string]providers.Plugin {
	return map[string]providers.Plugin{
		"ecr-credential-provider": ecr.Plugin(), // cloud-provider-aws
		"auth-provider-gcp":       gcr.Plugin(), // cloud-provider-gcp
		"acr-credential-provider": acr.Plugin(), // cloud-provider-azure
	}
}

// TestPeerConfigs: each peer's kubelet config entry (deploy/peers) is valid, its args are
// taken by our binary's own flag parsing, and its matchImages are hosts the binary serves
// (it errs, never answers, for any other).
func TestPeerConfigs(t *testing.T) {
	served := map[string][]string{
		"ecr-credential-provider": ecr.MatchImages(),
		"auth-provider-gcp":       gcr.DefaultRegistries(),
		// The peer lists the retired German cloud, which is not served: its images get an
		// error, as for any host that is not a login server.
		"acr-credential-provider": append(acr.MatchImages(), "*.azurecr.de"),
	}
	n := 0
	for _, c := range credentialProviderConfigs(t) {
		if !isPeer(c) {
			continue
		}
		for _, p := range c.cfg.Providers {
			n++
			t.Run(c.name+"/"+p.Name, func(t *testing.T) {
				plug, ok := peerPlugins()[p.Name]
				if !ok {
					t.Fatalf("provider %q is no peer binary pullkeys replaces", p.Name)
				}
				var stdout, stderr bytes.Buffer
				args := append(slices.Clone(p.Args), "--help")
				if code := providers.Execute(context.Background(), plug, args, strings.NewReader(""), &stdout, &stderr); code != 0 || stderr.Len() != 0 {
					t.Errorf("%s %q: exit %d, stderr %q", p.Name, p.Args, code, stderr.String())
				}
				for _, m := range p.MatchImages {
					if !slices.Contains(served[p.Name], m) {
						t.Errorf("matchImages entry %q is not among the hosts %s serves: %q", m, p.Name, served[p.Name])
					}
				}
			})
		}
	}
	if n < 3 {
		t.Errorf("found %d peer entries under deploy/peers, want at least 3", n)
	}
}

// TestECRMatchImages keeps every example in line with the hosts the ECR plugin serves.
// mirrorUpstreams returns the upstreams of a provider's --mirror args: they belong in its
// matchImages too.
func mirrorUpstreams(t *testing.T, args []string) []string {
	t.Helper()
	o, err := mirror.FlagsOf(args)
	if err != nil {
		t.Fatalf("args %q: %v", args, err)
	}
	var out []string
	for _, m := range o.Mappings {
		out = append(out, m.Upstream)
	}
	return out
}

func TestECRMatchImages(t *testing.T) {
	n := 0
	for _, c := range credentialProviderConfigs(t) {
		if isPeer(c) {
			continue
		}
		for _, p := range c.cfg.Providers {
			if p.Name != "ecr-credential-provider" {
				continue
			}
			n++
			want := sorted(append(ecr.MatchImages(), mirrorUpstreams(t, p.Args)...))
			if diff := cmp.Diff(want, sorted(p.MatchImages)); diff != "" {
				t.Errorf("%s: providers[%d].matchImages differ from ecr.MatchImages() (-want +got):\n%s", c.name, p.Index, diff)
			}
		}
	}
	if n < 2 {
		t.Errorf("found %d ecr-credential-provider entries, want the two of deploy/eks", n)
	}
}

// TestACRMatchImages keeps every example in line with the hosts the ACR plugin serves: the
// default suffixes plus --registry-suffix.
func TestACRMatchImages(t *testing.T) {
	n := 0
	for _, c := range credentialProviderConfigs(t) {
		if isPeer(c) {
			continue // TestPeerConfigs
		}
		for _, p := range c.cfg.Providers {
			if p.Name != "acr-credential-provider" {
				continue
			}
			n++
			var suffixes []string
			for _, a := range p.Args {
				if v, ok := strings.CutPrefix(a, "--registry-suffix="); ok {
					suffixes = append(suffixes, v)
				}
			}
			if diff := cmp.Diff(sorted(acr.MatchImages(suffixes...)), sorted(p.MatchImages)); diff != "" {
				t.Errorf("%s: providers[%d].matchImages differ from acr.MatchImages() (-want +got):\n%s", c.name, p.Index, diff)
			}
		}
	}
	if n < 2 {
		t.Errorf("found %d acr-credential-provider entries, want the two of deploy/aks", n)
	}
}

// TestGCRMatchImages keeps every example in line with the hosts the GCR plugin serves: its
// defaults plus --registry. An entry only in matchImages would get a cached Global answer that
// does not cover it; one only served would never be asked about.
func TestGCRMatchImages(t *testing.T) {
	n := 0
	for _, c := range credentialProviderConfigs(t) {
		if isPeer(c) {
			continue
		}
		for _, p := range c.cfg.Providers {
			if p.Name != "gcr-credential-provider" {
				continue
			}
			n++
			served := append(gcr.DefaultRegistries(), mirrorUpstreams(t, p.Args)...)
			for _, a := range p.Args {
				if v, ok := strings.CutPrefix(a, "--registry="); ok {
					served = append(served, v)
				}
			}
			if diff := cmp.Diff(sorted(served), sorted(p.MatchImages)); diff != "" {
				t.Errorf("%s: providers[%d].matchImages differ from the served hosts (-served +matchImages):\n%s", c.name, p.Index, diff)
			}
		}
	}
	if n < 2 {
		t.Errorf("found %d gcr-credential-provider entries, want the two of deploy/gke", n)
	}
}

// decodeStrict decodes a document into an API type as the API server's strict field
// validation would: unknown fields, duplicate fields and fields in the wrong case fail.
func decodeStrict(t *testing.T, d document, into any) {
	t.Helper()
	strict, err := sigsjson.UnmarshalStrict(d.json, into)
	if err != nil {
		t.Fatalf("%s: %v", d, err)
	}
	for _, e := range strict {
		t.Errorf("%s: %v", d, e)
	}
}

// manifests are the Kubernetes objects under deploy/, by kind.
type manifests struct {
	daemonSets []*appsv1.DaemonSet
	configMaps map[string]*corev1.ConfigMap // by namespace/name
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	m := manifests{configMaps: map[string]*corev1.ConfigMap{}}
	for _, d := range loadDocuments(t) {
		var into any
		switch d.apiVersion + " " + d.kind {
		case "apps/v1 DaemonSet":
			ds := &appsv1.DaemonSet{}
			m.daemonSets = append(m.daemonSets, ds)
			into = ds
		case "v1 ConfigMap":
			into = &corev1.ConfigMap{}
		case "v1 Secret":
			into = &corev1.Secret{}
		case "v1 ServiceAccount":
			into = &corev1.ServiceAccount{}
		case "v1 Namespace":
			into = &corev1.Namespace{}
		case "batch/v1 CronJob":
			into = &batchv1.CronJob{}
		case "rbac.authorization.k8s.io/v1 Role":
			into = &rbacv1.Role{}
		case "rbac.authorization.k8s.io/v1 RoleBinding":
			into = &rbacv1.RoleBinding{}
		case "rbac.authorization.k8s.io/v1 ClusterRole":
			into = &rbacv1.ClusterRole{}
		case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
			into = &rbacv1.ClusterRoleBinding{}
		default:
			if isCredentialProviderConfig(d.apiVersion, d.kind) {
				continue // checked by TestCredentialProviderConfigs
			}
			t.Errorf("%s: %s %s is not a kind this test knows: add it to loadManifests", d, d.apiVersion, d.kind)
			continue
		}
		decodeStrict(t, d, into)
		if cm, ok := into.(*corev1.ConfigMap); ok {
			m.configMaps[cm.Namespace+"/"+cm.Name] = cm
		}
	}
	return m
}

func TestManifests(t *testing.T) {
	m := loadManifests(t)
	if len(m.daemonSets) == 0 {
		t.Fatal("no DaemonSet under deploy/")
	}
	for _, ds := range m.daemonSets {
		t.Run(ds.Name, func(t *testing.T) {
			spec := ds.Spec.Template.Spec
			if ds.Spec.Selector == nil || len(ds.Spec.Selector.MatchLabels) == 0 {
				t.Fatal("no selector")
			}
			for k, v := range ds.Spec.Selector.MatchLabels {
				if ds.Spec.Template.Labels[k] != v {
					t.Errorf("selector %s=%s does not match the template's labels %v", k, v, ds.Spec.Template.Labels)
				}
			}
			if !slices.ContainsFunc(spec.Tolerations, func(tol corev1.Toleration) bool {
				return tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == ""
			}) {
				t.Errorf("tolerations %v: want one that tolerates every taint, so that every node gets the binaries", spec.Tolerations)
			}
			volumes := map[string]corev1.Volume{}
			for _, v := range spec.Volumes {
				volumes[v.Name] = v
				if v.ConfigMap != nil {
					if _, ok := m.configMaps[ds.Namespace+"/"+v.ConfigMap.Name]; !ok {
						t.Errorf("volume %s: ConfigMap %s/%s is not under deploy/", v.Name, ds.Namespace, v.ConfigMap.Name)
					}
				}
				if v.HostPath != nil && (v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectoryOrCreate) {
					t.Errorf("volume %s: hostPath type %v, want DirectoryOrCreate", v.Name, v.HostPath.Type)
				}
			}
			for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
				for _, vm := range c.VolumeMounts {
					if _, ok := volumes[vm.Name]; !ok {
						t.Errorf("container %s mounts volume %s, which the pod does not have", c.Name, vm.Name)
					}
				}
				if c.Image == "" || strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image[strings.LastIndex(c.Image, "/")+1:], ":") {
					t.Errorf("container %s: image %q: want a pinned tag", c.Name, c.Image)
				}
				sc := c.SecurityContext
				if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
					sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || (sc.Privileged != nil && *sc.Privileged) {
					t.Errorf("container %s: securityContext %+v: want no privilege escalation, a read-only root and all capabilities dropped", c.Name, sc)
				}
				if c.Resources.Limits.Memory().IsZero() {
					t.Errorf("container %s: no memory limit", c.Name)
				}
			}
		})
	}
}

// installerDaemonSet returns the DaemonSet that runs pullkeys-installer, its init container
// and its main container.
func installerDaemonSet(t *testing.T, m manifests) (*appsv1.DaemonSet, corev1.Container, corev1.Container) {
	t.Helper()
	for _, ds := range m.daemonSets {
		spec := ds.Spec.Template.Spec
		if len(spec.InitContainers) == 1 && len(spec.Containers) == 1 {
			return ds, spec.InitContainers[0], spec.Containers[0]
		}
	}
	t.Fatal("no DaemonSet with one init container and one container")
	return nil, corev1.Container{}, corev1.Container{}
}

// fakeNode maps the DaemonSet's container paths and the node's host paths to temporary
// directories.
type fakeNode struct {
	root      string            // host "/" is root
	container map[string]string // container mount path (or image path) → temporary path
}

// host maps a host path.
func (n fakeNode) host(p string) string { return filepath.Join(n.root, p) }

// rewrite maps the path in a --flag=/path argument, using the longest matching prefix of m.
func rewrite(arg string, m map[string]string) string {
	flag, value, ok := strings.Cut(arg, "=")
	if !ok {
		return arg
	}
	best := ""
	for prefix := range m {
		if (value == prefix || strings.HasPrefix(value, prefix+"/")) && len(prefix) > len(best) {
			best = prefix
		}
	}
	if best == "" {
		return arg
	}
	return flag + "=" + m[best] + strings.TrimPrefix(value, best)
}

// systemdFlags returns the kubelet flags the drop-in sets, by name.
func systemdFlags(t *testing.T) (flags map[string]string, execStarts []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("systemd", "20-image-credential-provider.conf"))
	if err != nil {
		t.Fatal(err)
	}
	flags = map[string]string{}
	vars := map[string]string{}
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line
		case section != "[Service]":
			t.Errorf("drop-in: %q outside [Service]", line)
		case strings.HasPrefix(line, "Environment="):
			kv := strings.Trim(strings.TrimPrefix(line, "Environment="), `"`)
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		case strings.HasPrefix(line, "ExecStart="):
			execStarts = append(execStarts, strings.TrimPrefix(line, "ExecStart="))
		default:
			t.Errorf("drop-in: unexpected line %q", line)
		}
	}
	for _, f := range strings.Fields(vars["KUBELET_IMAGE_CREDENTIAL_PROVIDER_ARGS"]) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Errorf("drop-in: kubelet flag %q: want --flag=value", f)
		}
		flags[k] = v
	}
	return flags, execStarts
}

func TestSystemdDropIn(t *testing.T) {
	flags, execStarts := systemdFlags(t)
	for _, name := range []string{"--image-credential-provider-config", "--image-credential-provider-bin-dir"} {
		if !filepath.IsAbs(flags[name]) {
			t.Errorf("drop-in: %s = %q, want an absolute path", name, flags[name])
		}
	}
	if len(flags) != 2 {
		t.Errorf("drop-in: kubelet flags %v, want exactly the two credential provider flags", flags)
	}
	// A drop-in adds to a list setting like ExecStart: the empty assignment must reset it
	// first, or systemd refuses a second ExecStart for a simple service.
	if len(execStarts) != 2 || execStarts[0] != "" {
		t.Fatalf("drop-in: ExecStart lines %q, want an empty one, then the command", execStarts)
	}
	for _, v := range []string{"$KUBELET_KUBECONFIG_ARGS", "$KUBELET_CONFIG_ARGS", "$KUBELET_KUBEADM_ARGS", "$KUBELET_EXTRA_ARGS", "$KUBELET_IMAGE_CREDENTIAL_PROVIDER_ARGS"} {
		if !strings.Contains(execStarts[1], v) {
			t.Errorf("drop-in: ExecStart %q drops %s of kubeadm's unit", execStarts[1], v)
		}
	}

	// The flags name the files the DaemonSet writes.
	ds, initC, _ := installerDaemonSet(t, loadManifests(t))
	hostOf := map[string]string{} // container path → host path
	for _, vm := range initC.VolumeMounts {
		for _, v := range ds.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.HostPath != nil {
				hostOf[vm.MountPath] = v.HostPath.Path
			}
		}
	}
	args := map[string]string{}
	for _, a := range initC.Args {
		k, v, _ := strings.Cut(rewrite(a, hostOf), "=")
		args[k] = v
	}
	configMapKey := filepath.Base(flagValue(initC.Args, "--config"))
	if got, want := flags["--image-credential-provider-bin-dir"], args["--bin-dir"]; got != want {
		t.Errorf("drop-in bin dir %s, but the DaemonSet installs the binaries into %s", got, want)
	}
	if got, want := flags["--image-credential-provider-config"], filepath.Join(args["--config-dir"], configMapKey); got != want {
		t.Errorf("drop-in config %s, but the DaemonSet installs the config as %s", got, want)
	}
}

func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// dockerfileBinDir is where the Dockerfile puts the release binaries in the image.
func dockerfileBinDir(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^COPY --from=build /out/bin/ (\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("Dockerfile: no COPY --from=build /out/bin/ <dir>")
	}
	return strings.TrimSuffix(string(m[1]), "/")
}

// TestDaemonSetInstallsWhatTheKubeletNeeds runs the DaemonSet's installer with its own
// arguments on a fake node, then checks the node as the kubelet would at start-up with the
// drop-in's flags, and runs the installed dockercfg provider as the kubelet would.
func TestDaemonSetInstallsWhatTheKubeletNeeds(t *testing.T) {
	m := loadManifests(t)
	ds, initC, mainC := installerDaemonSet(t, m)
	node := fakeNode{root: t.TempDir(), container: map[string]string{}}
	tmp := t.TempDir()

	// The image: fake binaries under the Dockerfile's directory.
	imageBin := filepath.Join(tmp, "image", "bin")
	node.container[dockerfileBinDir(t)] = imageBin
	if err := os.MkdirAll(imageBin, 0o755); err != nil {
		t.Fatal(err)
	}
	// As in the release archive: every command of ./cmd but the installer, one file each.
	var imageBinaries []string
	cmds, err := os.ReadDir(filepath.Join(repoRoot, "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if c.IsDir() && c.Name() != "pullkeys-installer" {
			imageBinaries = append(imageBinaries, c.Name())
		}
	}
	for _, name := range imageBinaries {
		if err := os.WriteFile(filepath.Join(imageBin, name), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// The mounts, with the kubelet's ..data layout for ConfigMaps and Secrets.
	const registry, username, password = "registry.example.io", "robot", "pull-password-from-the-secret"
	for _, vm := range initC.VolumeMounts {
		var vol *corev1.Volume
		for i := range ds.Spec.Template.Spec.Volumes {
			if ds.Spec.Template.Spec.Volumes[i].Name == vm.Name {
				vol = &ds.Spec.Template.Spec.Volumes[i]
			}
		}
		if vol == nil {
			t.Fatalf("mount %s: no volume", vm.Name)
		}
		switch {
		case vol.HostPath != nil:
			node.container[vm.MountPath] = node.host(vol.HostPath.Path)
		case vol.ConfigMap != nil:
			cm := m.configMaps[ds.Namespace+"/"+vol.ConfigMap.Name]
			node.container[vm.MountPath] = projectedVolume(t, filepath.Join(tmp, vm.Name), cm.Data)
		case vol.Secret != nil:
			secret := fmt.Sprintf(`{"auths":{%q:{"username":%q,"password":%q}}}`, registry, username, password)
			node.container[vm.MountPath] = projectedVolume(t, filepath.Join(tmp, vm.Name), map[string]string{".dockerconfigjson": secret})
		default:
			t.Fatalf("volume %s: a kind this test cannot fake", vm.Name)
		}
	}

	// Run the init container, then the main container's arguments up to --help (they must
	// parse); the main container must install the same things again.
	var args []string
	for _, a := range initC.Args {
		args = append(args, rewrite(a, node.container))
	}
	var stdout, stderr bytes.Buffer
	if code := installer.Main(context.Background(), args, &stdout, &stderr); code != installer.ExitOK {
		t.Fatalf("pullkeys-installer %q = %d\nstdout: %s\nstderr: %s", args, code, stdout.String(), stderr.String())
	}
	if !slices.Equal(mainC.Args[:min(len(initC.Args), len(mainC.Args))], initC.Args) || !slices.Contains(mainC.Args, "--wait") {
		t.Errorf("main container args %q: want the init container's %q plus --wait", mainC.Args, initC.Args)
	}
	if mainC.Image != initC.Image {
		t.Errorf("main container image %s, init container %s: want the same", mainC.Image, initC.Image)
	}
	var mainArgs []string
	for _, a := range mainC.Args {
		mainArgs = append(mainArgs, rewrite(a, node.container))
	}
	stdout.Reset()
	stderr.Reset()
	if code := installer.Main(context.Background(), append(mainArgs, "--help"), &stdout, &stderr); code != installer.ExitOK {
		t.Errorf("main container args %q do not parse: %s", mainC.Args, stderr.String())
	}

	// The kubelet's start-up check, with the drop-in's flags.
	flags, _ := systemdFlags(t)
	configPath := node.host(flags["--image-credential-provider-config"])
	binDir := node.host(flags["--image-credential-provider-bin-dir"])
	cfg, problems := kubelet.LoadConfig(configPath, binDir)
	for _, p := range problems {
		t.Errorf("pullkeys validate --config %s --bin-dir %s: %s", flags["--image-credential-provider-config"], flags["--image-credential-provider-bin-dir"], p)
	}
	modes := map[string]fs.FileMode{configPath: 0o644}
	for _, name := range imageBinaries {
		modes[filepath.Join(binDir, name)] = 0o755
	}
	for path, want := range modes {
		if info, err := os.Stat(path); err != nil {
			t.Errorf("%s: %v", path, err)
		} else if info.Mode().Perm() != want {
			t.Errorf("%s: mode %#o, want %#o", path, info.Mode().Perm(), want)
		}
	}

	// The installed dockercfg provider, with the installed config's args, answers with the
	// pull secret that the DaemonSet synced.
	for _, p := range cfg.Providers {
		if p.Name != "dockercfg-credential-provider" {
			continue
		}
		hostMap := map[string]string{}
		for _, a := range p.Args {
			if v, ok := strings.CutPrefix(a, "--config="); ok {
				hostMap[v] = node.host(v)
			}
		}
		var pargs []string
		for _, a := range p.Args {
			pargs = append(pargs, rewrite(a, hostMap))
		}
		req := `{"apiVersion":"` + p.APIVersion + `","kind":"CredentialProviderRequest","image":"` + registry + `/team/app"}`
		t.Setenv(cache.EnvDir, t.TempDir()) // dockercfg keeps nothing there now; never this machine's /var/lib/kubelet
		var out, errOut bytes.Buffer
		if code := providers.Execute(context.Background(), dockercfg.Plugin(), pargs, strings.NewReader(req), &out, &errOut); code != 0 {
			t.Fatalf("dockercfg-credential-provider %q = %d: %s", pargs, code, errOut.String())
		}
		resp, err := providers.DecodeResponse(out.Bytes(), p.APIVersion)
		if err != nil {
			t.Fatalf("dockercfg-credential-provider answer: %v", err)
		}
		if got := resp.Auth[registry]; got.Username != username || got.Password != password {
			t.Errorf("dockercfg-credential-provider answered %d entries without the pull secret's credentials for %s", len(resp.Auth), registry)
		}
		if info, err := os.Stat(node.host(filepath.Join(flagValueHost(t, p.Args), ".dockerconfigjson"))); err != nil {
			t.Errorf("pull secret on the node: %v", err)
		} else if info.Mode().Perm() != 0o600 {
			t.Errorf("pull secret on the node: mode %#o, want 0600", info.Mode().Perm())
		}
		return
	}
	t.Error("the DaemonSet's config has no dockercfg-credential-provider to try the pull secret with")
}

// flagValueHost returns the --config of the dockercfg provider that is not a file of the
// node image, i.e. the pull secret directory.
func flagValueHost(t *testing.T, args []string) string {
	t.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--config="); ok && strings.HasSuffix(v, "pull-secret") {
			return v
		}
	}
	t.Fatalf("no --config=<pull secret dir> in %q", args)
	return ""
}

// projectedVolume writes files as the kubelet mounts a ConfigMap or Secret: each key a
// symbolic link into ..data, itself a link to a timestamped directory.
func projectedVolume(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	ts := filepath.Join(dir, "..2025_01_01_00_00_00.000000001")
	if err := os.MkdirAll(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(ts, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestDocsLinks checks that the documentation's links into the repository exist and that the
// install guide points at every example directory.
func TestDocsLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	for _, doc := range []string{"install.md", "troubleshooting.md", "migration.md", "prepull.md"} {
		path := filepath.Join(repoRoot, "docs", doc)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(repoRoot, "docs", target)); err != nil {
				t.Errorf("docs/%s: link %s: %v", doc, target, err)
			}
		}
		if doc == "install.md" {
			for _, dir := range []string{"eks", "gke", "aks", "dockercfg", "systemd", "daemonset"} {
				if !strings.Contains(string(data), "../deploy/"+dir+"/") {
					t.Errorf("docs/install.md does not link to deploy/%s/", dir)
				}
			}
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}
