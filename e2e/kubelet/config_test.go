package kubelet

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	pkkubelet "github.com/pullkeys/pullkeys/kubelet"
)

// configCase is a --image-credential-provider-config (one file, or a directory of files).
// {n0}, {n1}, … become provider names unique to the case, each with a binary in the bin dir
// unless listed in noBinary; {d} becomes the case's domain.
type configCase struct {
	name     string
	files    map[string]string // file name → content; a single "config.yaml" is the path itself
	dir      bool              // the config path is the directory of files
	noBinary []string          // placeholders without a binary
	link     []string          // names (with placeholders) of the binaries; default: one per placeholder
	symlinks map[string]string // in the config directory: link name → target (relative)
	noBinDir bool              // the bin dir does not exist
	valid    bool              // the kubelet accepts it
}

const provV1 = `apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
`

func entry(name, extra string) string {
	return "- name: " + name + "\n  matchImages: [\"*.{d}\"]\n  defaultCacheDuration: 1h\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n" + extra
}

func tokenEntry(name, attrs string) string {
	return entry(name, "  tokenAttributes:\n"+attrs)
}

const goodToken = "    serviceAccountTokenAudience: aud\n    cacheType: ServiceAccount\n    requireServiceAccount: true\n"

func one(content string) map[string]string { return map[string]string{"config.yaml": content} }

func configCases() []configCase {
	return []configCase{
		{name: "minimal", files: one(provV1 + entry("{n0}", "")), valid: true},
		{name: "two providers", files: one(provV1 + entry("{n0}", "") + entry("{n1}", "")), valid: true},
		{name: "JSON", files: map[string]string{"config.yaml": `{"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig","providers":[{"name":"{n0}","matchImages":["*.{d}"],"defaultCacheDuration":"1h","apiVersion":"credentialprovider.kubelet.k8s.io/v1"}]}`}, valid: true},
		{name: "config v1beta1", files: one(strings.Replace(provV1, "/v1\n", "/v1beta1\n", 1) + entry("{n0}", "")), valid: true},
		{name: "config v1alpha1", files: one(strings.Replace(provV1, "/v1\n", "/v1alpha1\n", 1) + entry("{n0}", "")), valid: true},
		{name: "config of another group", files: one(strings.Replace(provV1, "kubelet.config.k8s.io", "example.io", 1) + entry("{n0}", "")), valid: false},
		{name: "wrong kind", files: one(strings.Replace(provV1, "CredentialProviderConfig", "KubeletConfiguration", 1)), valid: false},
		{name: "no providers", files: one(strings.Replace(provV1, "providers:\n", "providers: []\n", 1)), valid: false},
		{name: "empty file", files: one(""), valid: false},
		{name: "unknown field", files: one(provV1 + entry("{n0}", "  timeout: 10s\n")), valid: false},
		{name: "field in the wrong case", files: one(provV1 + entry("{n0}", "  Args: [\"-v=1\"]\n")), valid: false},
		{name: "duplicate key", files: one(provV1 + entry("{n0}", "  defaultCacheDuration: 2h\n")), valid: false},
		{name: "args and env", files: one(provV1 + entry("{n0}", "  args: [\"-v=2\"]\n  env:\n  - name: A\n    value: b\n  - name: EMPTY\n")), valid: true},
		{name: "two YAML documents", files: one(provV1 + entry("{n0}", "") + "---\n" + provV1 + entry("{n1}", "")), valid: true},
		{name: "name with a space", files: one(provV1 + entry("a b", "")), valid: false},
		{name: "name with a slash", files: one(provV1 + entry("a/b", "")), valid: false},
		{name: "name dot", files: one(provV1 + entry(".", "")), valid: false},
		{name: "name dot dot", files: one(provV1 + entry("..", "")), valid: false},
		{name: "duplicate names", files: one(provV1 + entry("{n0}", "") + entry("{n0}", "")), valid: false},
		{name: "no matchImages", files: one(provV1 + "- name: {n0}\n  defaultCacheDuration: 1h\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"), valid: false},
		{name: "matchImages does not parse", files: one(provV1 + "- name: {n0}\n  matchImages: [\"%zz.{d}\"]\n  defaultCacheDuration: 1h\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"), valid: false},
		{name: "matchImages with a scheme is accepted", files: one(provV1 + "- name: {n0}\n  matchImages: [\"https://{d}\"]\n  defaultCacheDuration: 1h\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"), valid: true},
		{name: "matchImages with a question mark is accepted", files: one(provV1 + "- name: {n0}\n  matchImages: [\"registr?.{d}\"]\n  defaultCacheDuration: 1h\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"), valid: true},
		{name: "no defaultCacheDuration", files: one(provV1 + "- name: {n0}\n  matchImages: [\"*.{d}\"]\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"), valid: false},
		{name: "defaultCacheDuration 0s", files: one(provV1 + "- name: {n0}\n  matchImages: [\"*.{d}\"]\n  defaultCacheDuration: 0s\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"), valid: true},
		{name: "negative defaultCacheDuration", files: one(provV1 + "- name: {n0}\n  matchImages: [\"*.{d}\"]\n  defaultCacheDuration: -1m\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"), valid: false},
		{name: "defaultCacheDuration without unit", files: one(provV1 + "- name: {n0}\n  matchImages: [\"*.{d}\"]\n  defaultCacheDuration: 10\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"), valid: false},
		{name: "no apiVersion", files: one(provV1 + "- name: {n0}\n  matchImages: [\"*.{d}\"]\n  defaultCacheDuration: 1h\n"), valid: false},
		{name: "unknown apiVersion", files: one(provV1 + "- name: {n0}\n  matchImages: [\"*.{d}\"]\n  defaultCacheDuration: 1h\n  apiVersion: credentialprovider.kubelet.k8s.io/v2\n"), valid: false},
		{name: "tokenAttributes", files: one(provV1 + tokenEntry("{n0}", goodToken+"    requiredServiceAccountAnnotationKeys: [example.com/role]\n    optionalServiceAccountAnnotationKeys: [Example.com/Opt]\n")), valid: true},
		{name: "tokenAttributes cacheType Token", files: one(provV1 + tokenEntry("{n0}", "    serviceAccountTokenAudience: aud\n    cacheType: Token\n    requireServiceAccount: false\n")), valid: true},
		{name: "tokenAttributes with credentialprovider v1beta1", files: one(provV1 + "- name: {n0}\n  matchImages: [\"*.{d}\"]\n  defaultCacheDuration: 1h\n  apiVersion: credentialprovider.kubelet.k8s.io/v1beta1\n  tokenAttributes:\n" + goodToken), valid: false},
		{name: "tokenAttributes in a v1beta1 config", files: one(strings.Replace(provV1, "/v1\n", "/v1beta1\n", 1) + tokenEntry("{n0}", goodToken)), valid: false},
		{name: "tokenAttributes without audience", files: one(provV1 + tokenEntry("{n0}", "    cacheType: ServiceAccount\n    requireServiceAccount: true\n")), valid: false},
		{name: "tokenAttributes without requireServiceAccount", files: one(provV1 + tokenEntry("{n0}", "    serviceAccountTokenAudience: aud\n    cacheType: ServiceAccount\n")), valid: false},
		{name: "tokenAttributes without cacheType", files: one(provV1 + tokenEntry("{n0}", "    serviceAccountTokenAudience: aud\n    requireServiceAccount: true\n")), valid: false},
		{name: "tokenAttributes lower-case cacheType", files: one(provV1 + tokenEntry("{n0}", "    serviceAccountTokenAudience: aud\n    cacheType: token\n    requireServiceAccount: true\n")), valid: false},
		{name: "required keys without requireServiceAccount", files: one(provV1 + tokenEntry("{n0}", "    serviceAccountTokenAudience: aud\n    cacheType: Token\n    requireServiceAccount: false\n    requiredServiceAccountAnnotationKeys: [example.com/a]\n")), valid: false},
		{name: "annotation key not a qualified name", files: one(provV1 + tokenEntry("{n0}", goodToken+"    optionalServiceAccountAnnotationKeys: [\"bad key\"]\n")), valid: false},
		{name: "annotation key with two slashes", files: one(provV1 + tokenEntry("{n0}", goodToken+"    optionalServiceAccountAnnotationKeys: [a/b/c]\n")), valid: false},
		{name: "annotation key repeated", files: one(provV1 + tokenEntry("{n0}", goodToken+"    requiredServiceAccountAnnotationKeys: [example.com/a, example.com/a]\n")), valid: false},
		{name: "annotation key required and optional", files: one(provV1 + tokenEntry("{n0}", goodToken+"    requiredServiceAccountAnnotationKeys: [example.com/a]\n    optionalServiceAccountAnnotationKeys: [example.com/a]\n")), valid: false},
		{name: "annotation keys differing in case", files: one(provV1 + tokenEntry("{n0}", goodToken+"    requiredServiceAccountAnnotationKeys: [example.com/a]\n    optionalServiceAccountAnnotationKeys: [Example.com/A]\n")), valid: true},
		{name: "binary missing", files: one(provV1 + entry("{n0}", "") + entry("{n1}", "")), noBinary: []string{"{n1}"}, valid: false},
		{name: "bin dir missing", files: one(provV1 + entry("{n0}", "")), noBinDir: true, valid: false},
		{
			name: "directory merged in lexical order", dir: true, valid: true,
			files: map[string]string{"b.yaml": provV1 + entry("{n1}", ""), "a.json": provV1 + entry("{n0}", ""), "c.YAML": "not read", "d.txt": "not read"},
		},
		{
			name: "directory with a duplicate name across files", dir: true, valid: false,
			files: map[string]string{"a.yaml": provV1 + entry("{n0}", ""), "b.yml": provV1 + entry("{n0}", "")},
		},
		{
			name: "directory with a bad file", dir: true, valid: false,
			files: map[string]string{"a.yaml": provV1 + entry("{n0}", ""), "b.yaml": "kind: Nope\n"},
		},
		{name: "directory without config files", dir: true, valid: false, files: map[string]string{"README": "x"}},
		{
			name: "directory with a hidden file", dir: true, valid: true,
			files: map[string]string{"a.yaml": provV1 + entry("{n0}", ""), ".hidden.yaml": provV1 + entry("{n1}", "")},
		},
		{
			name: "directory with YAML in a .json file", dir: true, valid: true,
			files: map[string]string{"a.json": provV1 + entry("{n0}", "")},
		},
		{
			name: "directory with a file of comments only", dir: true, valid: false,
			files: map[string]string{"a.yaml": provV1 + entry("{n0}", ""), "b.yaml": "# nothing here\n"},
		},
		{
			name: "directory with a symbolic link to a file", dir: true, valid: true,
			files:    map[string]string{"real.conf": provV1 + entry("{n0}", "")},
			symlinks: map[string]string{"a.yaml": "real.conf"},
		},
		{
			name: "directory with a symbolic link to a directory", dir: true, valid: false,
			files:    map[string]string{"a.yaml": provV1 + entry("{n0}", "")},
			symlinks: map[string]string{"sub.yaml": "."},
		},
		{name: "byte order mark", files: one("\ufeff" + provV1 + entry("{n0}", "")), valid: true},
		{name: "providers null", files: one(strings.Replace(provV1, "providers:\n", "providers: null\n", 1)), valid: false},
		{name: "empty name", files: one(provV1 + entry(`""`, "")), valid: false},
		{name: "name with a tab", files: one(provV1 + entry(`"tab\t{n0}"`, "")), link: []string{"tab\t{n0}"}, valid: true},
		{name: "name with a leading dash", files: one(provV1 + entry("-{n0}", "")), link: []string{"-{n0}"}, valid: true},
		{name: "name with a colon", files: one(provV1 + entry(`"a:{n0}"`, "")), link: []string{"a:{n0}"}, valid: true},
	}
}

var placeholder = regexp.MustCompile(`\{n[0-9]\}`)

// TestConfigValidation gives each config to the kubelet's RegisterCredentialProviderPlugins
// and to pullkeys' LoadConfig (what `pullkeys check` and `pullkeys validate` use): they must
// agree on whether the kubelet starts.
func TestConfigValidation(t *testing.T) {
	for _, tc := range configCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t)
			root := filepath.Join(filepath.Dir(s.configPath), "config.d")
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			names := map[string]string{}
			expand := func(text string) string {
				return placeholder.ReplaceAllStringFunc(text, func(p string) string {
					if _, ok := names[p]; !ok {
						names[p] = fmt.Sprintf("cfg-%s-%s", s.id, p[2:len(p)-1])
					}
					return names[p]
				})
			}
			for file, content := range tc.files {
				content = strings.ReplaceAll(expand(content), "{d}", s.domain)
				if err := os.WriteFile(filepath.Join(root, file), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for name, target := range tc.symlinks {
				if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
					t.Fatal(err)
				}
			}
			path := root
			if !tc.dir {
				path = filepath.Join(root, "config.yaml")
			}
			binDir := s.binDir
			if tc.noBinDir {
				binDir = filepath.Join(root, "no-such-dir")
			}
			link := tc.link
			if link == nil {
				for p := range names {
					if !slices.Contains(tc.noBinary, p) {
						link = append(link, p)
					}
				}
			}
			for _, name := range link {
				name = expand(name)
				if err := os.Symlink(binary(t, FakePlugin), filepath.Join(s.binDir, name)); err != nil {
					t.Fatal(err)
				}
			}

			kerr := kubeletRegister(path, binDir)
			if (kerr == nil) != tc.valid {
				t.Fatalf("the kubelet accepted the config: %v (%v), want %v", kerr == nil, kerr, tc.valid)
			}
			_, problems := pkkubelet.LoadConfig(path, binDir)
			if ours := len(problems.Errors()) == 0; ours != tc.valid {
				t.Errorf("pullkeys LoadConfig accepted the config: %v (%v); the kubelet: %v (%v)", ours, problems, tc.valid, kerr)
			}
			t.Logf("kubelet: %v; pullkeys: %v", kerr, problems)
			if kerr != nil {
				return
			}
			// The providers the kubelet registered are those pullkeys reads: every entry
			// matches reg.<domain> unless its matchImages cannot, so count the execs.
			image := s.image("reg", "app")
			lookup(t, image, pod{})
			kubeletExecs := len(s.execs())
			rep, err := pkkubelet.Check(t.Context(), pkkubelet.CheckOptions{ConfigPath: path, BinDir: binDir, Images: []string{image}})
			if err != nil {
				t.Fatal(err)
			}
			var ours int
			for _, pr := range rep.Images[0].Providers {
				if pr.Exec != nil {
					ours++
				}
			}
			t.Logf("providers exec'd for %s: the kubelet %d, pullkeys check %d", image, kubeletExecs, ours)
			if ours != kubeletExecs {
				t.Errorf("the kubelet exec'd %d plugins for %s, pullkeys check %d:\n%s", kubeletExecs, image, ours, reportText(t, rep))
			}
		})
	}
}

// kubeletRegister runs the kubelet's registration, turning its panic (a provider name
// registered twice across calls) into an error.
func kubeletRegister(path, binDir string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	api := &fakeAPI{}
	return kubeletRegisterWith(path, binDir, api)
}
