package kubelet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/internal/plugintest"
)

const header = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\n"

// provider is a valid provider entry in YAML with extra lines appended.
func provider(name string, extra ...string) string {
	s := "- name: " + name + "\n" +
		"  matchImages: [\"*.example.io\"]\n" +
		"  defaultCacheDuration: 10m\n" +
		"  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"
	for _, e := range extra {
		s += "  " + e + "\n"
	}
	return s
}

// problemLines loads path and returns its problems as strings, with dir removed from paths.
func problemLines(path, dir string) []string {
	_, problems := LoadConfig(path, "")
	var out []string
	for _, p := range problems {
		out = append(out, string(p.Severity)+": "+strings.ReplaceAll(p.String(), dir+string(filepath.Separator), ""))
	}
	return out
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tokenAttrs := func(lines ...string) string {
		s := "  tokenAttributes:\n"
		for _, l := range lines {
			s += "    " + l + "\n"
		}
		return s
	}
	tests := []struct {
		name   string
		config string
		want   []string
	}{
		{
			name:   "valid",
			config: header + "providers:\n" + provider("a") + provider("b", "args: [\"--x=1\"]", "env: [{name: A, value: b}]"),
		},
		{
			name:   "no providers",
			config: header + "providers: []\n",
			want:   []string{"error: c.yaml: providers: Required value: at least 1 item in plugins is required"},
		},
		{
			name:   "name with slash",
			config: header + "providers:\n" + provider("a/b"),
			want:   []string{`error: c.yaml: providers[0].name: Invalid value: "a/b": provider name cannot contain '/'`},
		},
		{
			name:   "name with space",
			config: header + "providers:\n" + provider("'a b'"),
			want:   []string{`error: c.yaml: providers[0].name: Invalid value: "a b": provider name cannot contain spaces`},
		},
		{
			name:   "name dot and dot dot",
			config: header + "providers:\n" + provider("'.'") + provider("'..'"),
			want: []string{
				`error: c.yaml: providers[0].name: Invalid value: ".": provider name cannot be '.'`,
				`error: c.yaml: providers[1].name: Invalid value: "..": provider name cannot be '..'`,
			},
		},
		{
			name:   "empty name",
			config: header + "providers:\n" + provider("''"),
			want:   []string{"error: c.yaml: providers[0].name: Required value: the kubelet execs <bin-dir>/<name>"},
		},
		{
			name:   "duplicate name in one file",
			config: header + "providers:\n" + provider("a") + provider("a"),
			want:   []string{`error: c.yaml: providers[1].name: Duplicate value: "a": already the name of providers[0] in c.yaml`},
		},
		{
			name:   "apiVersion missing",
			config: header + "providers:\n- name: a\n  matchImages: [\"x.io\"]\n  defaultCacheDuration: 1m\n",
			want:   []string{"error: c.yaml: providers[0].apiVersion: Required value"},
		},
		{
			name:   "apiVersion unsupported",
			config: header + "providers:\n" + strings.Replace(provider("a"), "credentialprovider.kubelet.k8s.io/v1", "credentialprovider.kubelet.k8s.io/v2", 1),
			want: []string{`error: c.yaml: providers[0].apiVersion: Unsupported value: "credentialprovider.kubelet.k8s.io/v2": supported values: ` +
				`"credentialprovider.kubelet.k8s.io/v1", "credentialprovider.kubelet.k8s.io/v1alpha1", "credentialprovider.kubelet.k8s.io/v1beta1"`},
		},
		{
			name:   "matchImages missing",
			config: header + "providers:\n- name: a\n  defaultCacheDuration: 1m\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n",
			want:   []string{"error: c.yaml: providers[0].matchImages: Required value: at least 1 item in matchImages is required"},
		},
		{
			name:   "matchImages entry that does not parse",
			config: header + "providers:\n" + strings.Replace(provider("a"), `["*.example.io"]`, `["ok.io", "x.io", "%zz"]`, 1),
			want:   []string{`error: c.yaml: providers[0].matchImages[2]: Invalid value: "%zz": match image is invalid: parse "https://%zz": invalid URL escape "%zz"`},
		},
		{
			name:   "defaultCacheDuration missing",
			config: header + "providers:\n- name: a\n  matchImages: [\"x.io\"]\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n",
			want:   []string{"error: c.yaml: providers[0].defaultCacheDuration: Required value"},
		},
		{
			name:   "defaultCacheDuration negative",
			config: header + "providers:\n" + strings.Replace(provider("a"), "10m", "-1s", 1),
			want:   []string{`error: c.yaml: providers[0].defaultCacheDuration: Invalid value: "-1s": must be greater than or equal to 0`},
		},
		{
			name:   "defaultCacheDuration zero is valid",
			config: header + "providers:\n" + strings.Replace(provider("a"), "10m", "0s", 1),
		},
		{
			name:   "tokenAttributes valid",
			config: header + "providers:\n" + provider("a") + tokenAttrs("serviceAccountTokenAudience: aud", "cacheType: Token", "requireServiceAccount: true", "requiredServiceAccountAnnotationKeys: [example.com/role]", "optionalServiceAccountAnnotationKeys: [Example.com/Other]"),
		},
		{
			name:   "tokenAttributes empty",
			config: header + "providers:\n" + provider("a") + tokenAttrs("serviceAccountTokenAudience: ''"),
			want: []string{
				"error: c.yaml: providers[0].tokenAttributes.serviceAccountTokenAudience: Required value",
				"error: c.yaml: providers[0].tokenAttributes.requireServiceAccount: Required value",
				"error: c.yaml: providers[0].tokenAttributes.cacheType: Required value: cacheType is required to be set when tokenAttributes is specified. Supported values are: ServiceAccount, Token",
			},
		},
		{
			name:   "tokenAttributes cacheType unsupported",
			config: header + "providers:\n" + provider("a") + tokenAttrs("serviceAccountTokenAudience: aud", "cacheType: Pod", "requireServiceAccount: false"),
			want:   []string{`error: c.yaml: providers[0].tokenAttributes.cacheType: Unsupported value: "Pod": supported values: "ServiceAccount", "Token"`},
		},
		{
			name: "tokenAttributes only with credentialprovider v1",
			config: header + "providers:\n" + strings.Replace(provider("a"), "credentialprovider.kubelet.k8s.io/v1", "credentialprovider.kubelet.k8s.io/v1beta1", 1) +
				tokenAttrs("serviceAccountTokenAudience: aud", "cacheType: Token", "requireServiceAccount: false"),
			want: []string{"error: c.yaml: providers[0].tokenAttributes: Forbidden: tokenAttributes is only supported for credentialprovider.kubelet.k8s.io/v1 API version"},
		},
		{
			name: "required annotation keys need requireServiceAccount",
			config: header + "providers:\n" + provider("a") +
				tokenAttrs("serviceAccountTokenAudience: aud", "cacheType: ServiceAccount", "requireServiceAccount: false", "requiredServiceAccountAnnotationKeys: [example.com/role]"),
			want: []string{"error: c.yaml: providers[0].tokenAttributes.requiredServiceAccountAnnotationKeys: Forbidden: requireServiceAccount cannot be false when requiredServiceAccountAnnotationKeys is set"},
		},
		{
			name: "annotation keys invalid, duplicate and in both lists",
			config: header + "providers:\n" + provider("a") +
				tokenAttrs("serviceAccountTokenAudience: aud", "cacheType: ServiceAccount", "requireServiceAccount: true",
					"requiredServiceAccountAnnotationKeys: [example.com/role, 'bad key', example.com/role]",
					"optionalServiceAccountAnnotationKeys: [example.com/role, a/b/c]"),
			want: []string{
				`error: c.yaml: providers[0].tokenAttributes.requiredServiceAccountAnnotationKeys[1]: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
				`error: c.yaml: providers[0].tokenAttributes.requiredServiceAccountAnnotationKeys[2]: Duplicate value: "example.com/role"`,
				`error: c.yaml: providers[0].tokenAttributes.optionalServiceAccountAnnotationKeys[1]: Invalid value: "a/b/c": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
				`error: c.yaml: providers[0].tokenAttributes: Invalid value: ["example.com/role"]: annotation keys cannot be both required and optional`,
			},
		},
		{
			name:   "unknown field",
			config: header + "providers:\n" + provider("a", "cacheDuration: 1m"),
			want:   []string{"error: c.yaml: providers[0].cacheDuration: Unknown field: " + unknownFieldDetail},
		},
		{
			name:   "field names are case-sensitive",
			config: header + "providers:\n" + provider("a", "Args: [x]"),
			want:   []string{"error: c.yaml: providers[0].Args: Unknown field: " + unknownFieldDetail},
		},
		{
			name:   "duplicate YAML key",
			config: header + "providers:\n" + provider("a", "defaultCacheDuration: 1m"),
			want:   []string{"error: c.yaml: defaultCacheDuration: Duplicate field: line 8: " + duplicateFieldDetail},
		},
		{
			name:   "tokenAttributes unknown in v1beta1",
			config: strings.Replace(header, "/v1\n", "/v1beta1\n", 1) + "providers:\n" + provider("a") + tokenAttrs("serviceAccountTokenAudience: aud"),
			want:   []string{"error: c.yaml: providers[0].tokenAttributes: Unknown field: " + unknownFieldDetail},
		},
		{
			name:   "v1alpha1 config",
			config: strings.Replace(header, "/v1\n", "/v1alpha1\n", 1) + "providers:\n" + provider("a"),
		},
		{
			name:   "wrong kind",
			config: "apiVersion: kubelet.config.k8s.io/v1\nkind: KubeletConfiguration\nproviders: []\n",
			want:   []string{`error: c.yaml: kind: Unsupported value: "KubeletConfiguration": want CredentialProviderConfig`},
		},
		{
			name:   "wrong group",
			config: "apiVersion: credentialprovider.kubelet.k8s.io/v1\nkind: CredentialProviderConfig\nproviders: []\n",
			want:   []string{`error: c.yaml: apiVersion: Unsupported value: "credentialprovider.kubelet.k8s.io/v1": group must be kubelet.config.k8s.io (want one of [kubelet.config.k8s.io/v1 kubelet.config.k8s.io/v1beta1 kubelet.config.k8s.io/v1alpha1])`},
		},
		{
			name:   "unknown version",
			config: "apiVersion: kubelet.config.k8s.io/v2\nkind: CredentialProviderConfig\nproviders: []\n",
			want:   []string{`error: c.yaml: apiVersion: Unsupported value: "kubelet.config.k8s.io/v2": want one of [kubelet.config.k8s.io/v1 kubelet.config.k8s.io/v1beta1 kubelet.config.k8s.io/v1alpha1]`},
		},
		{
			name:   "missing apiVersion and kind",
			config: "providers: []\n",
			want: []string{
				"error: c.yaml: apiVersion: Required value: want one of [kubelet.config.k8s.io/v1 kubelet.config.k8s.io/v1beta1 kubelet.config.k8s.io/v1alpha1]",
				"error: c.yaml: kind: Required value: want CredentialProviderConfig",
			},
		},
		{
			name:   "not YAML",
			config: "providers: [\n",
			want:   []string{"error: c.yaml: cannot parse YAML: yaml: line 1: did not find expected node content"},
		},
		{
			name:   "JSON with unknown field and secret env value",
			config: `{"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig","providers":[{"name":"a","matchImages":["x.io"],"defaultCacheDuration":"1m","apiVersion":"credentialprovider.kubelet.k8s.io/v1","env":[{"name":"TOKEN","value":"hunter2","secret":true}]}]}`,
			want:   []string{"error: c.yaml: providers[0].env[0].secret: Unknown field: " + unknownFieldDetail},
		},
		{
			name: "warnings for patterns that never match",
			config: header + "providers:\n" + strings.Replace(provider("a"), `["*.example.io"]`,
				`["https://quay.io", "registr?.io", "reg.io/app:1.0", "", "user@reg.io"]`, 1),
			want: []string{
				`warning: c.yaml: providers[0].matchImages[0]: Invalid value: "https://quay.io": a scheme is not removed from matchImages: the host becomes "https:" or "http:" and no image matches; remove the scheme`,
				`warning: c.yaml: providers[0].matchImages[1]: Invalid value: "registr?.io": '?' and '#' start a URL query or fragment: only the text before them is the pattern`,
				`warning: c.yaml: providers[0].matchImages[2]: Invalid value: "reg.io/app:1.0": the kubelet matches repositories without tag or digest: a pattern with ':' or '@' in its path matches nothing`,
				`warning: c.yaml: providers[0].matchImages[3]: Invalid value: "": an empty entry matches no image`,
				`warning: c.yaml: providers[0].matchImages[4]: Invalid value: "user@reg.io": user information in a pattern is not matched: no image has any`,
			},
		},
		{
			name:   "warning for env without name",
			config: header + "providers:\n" + provider("a", "env: [{name: '', value: x}]"),
			want:   []string{`warning: c.yaml: providers[0].env[0].name: Required value: the kubelet passes "=value" to the plugin`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := writeFile(t, dir, "c.yaml", tt.config)
			got := problemLines(path, dir)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LoadConfig(%q) problems (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestValidateSecretsStayOut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Every kind of error in a file whose env holds a secret: no message may quote it.
	path := writeFile(t, dir, "c.yaml", header+"providers:\n"+provider("a/b", "env: [{name: TOKEN, value: hunter2-secret}]", "bogus: hunter2-secret"))
	for _, line := range problemLines(path, dir) {
		if strings.Contains(line, "hunter2") {
			t.Errorf("LoadConfig(%q) problem %q quotes an env value", path, line)
		}
	}
	path = writeFile(t, dir, "d.yaml", "providers:\n"+provider("a", "env: [{name: TOKEN, value: hunter2-secret}]"))
	for _, line := range problemLines(path, dir) {
		if strings.Contains(line, "hunter2") {
			t.Errorf("LoadConfig(%q) problem %q quotes an env value", path, line)
		}
	}
}

func TestReadConfigDirectory(t *testing.T) {
	t.Parallel()
	names := func(cfg *Config) []string {
		var out []string
		for _, p := range cfg.Providers {
			out = append(out, p.Name+"@"+filepath.Base(p.File))
		}
		return out
	}
	t.Run("lexical order and merge", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, dir, "20-b.yaml", header+"providers:\n"+provider("b1")+provider("b2"))
		writeFile(t, dir, "10-a.json", `{"apiVersion":"kubelet.config.k8s.io/v1beta1","kind":"CredentialProviderConfig","providers":[{"name":"a","matchImages":["x.io"],"defaultCacheDuration":"1m","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1"}]}`)
		writeFile(t, dir, "30-c.yml", strings.Replace(header, "/v1\n", "/v1alpha1\n", 1)+"providers:\n"+provider("c"))
		cfg, problems := LoadConfig(dir, "")
		if len(problems) != 0 {
			t.Errorf("LoadConfig(dir) problems = %v, want none", problems)
		}
		want := []string{"a@10-a.json", "b1@20-b.yaml", "b2@20-b.yaml", "c@30-c.yml"}
		if diff := cmp.Diff(want, names(cfg)); diff != "" {
			t.Errorf("LoadConfig(dir) providers (-want +got):\n%s", diff)
		}
		if got, want := cfg.Providers[2].Index, 1; got != want {
			t.Errorf("LoadConfig(dir) providers[2].Index = %d, want %d", got, want)
		}
		if got, want := cfg.Providers[0].ConfigAPIVersion, "kubelet.config.k8s.io/v1beta1"; got != want {
			t.Errorf("LoadConfig(dir) providers[0].ConfigAPIVersion = %q, want %q", got, want)
		}
	})
	t.Run("duplicate names across files", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, dir, "a.yaml", header+"providers:\n"+provider("same"))
		writeFile(t, dir, "b.yaml", header+"providers:\n"+provider("other")+provider("same"))
		want := []string{`error: b.yaml: providers[1].name: Duplicate value: "same": already the name of providers[0] in a.yaml`}
		if diff := cmp.Diff(want, problemLines(dir, dir)); diff != "" {
			t.Errorf("LoadConfig(dir) problems (-want +got):\n%s", diff)
		}
	})
	t.Run("only json yaml yml files", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, dir, "a.yaml", header+"providers:\n"+provider("a"))
		writeFile(t, dir, "notes.txt", "not a config")
		writeFile(t, dir, "b.YAML", "not read: upper-case extension")
		writeFile(t, dir, "c.yaml.bak", "not read")
		writeFile(t, dir, "sub.yaml/d.yaml", "not read: in a subdirectory")
		cfg, problems := LoadConfig(dir, "")
		if len(problems) != 0 {
			t.Errorf("LoadConfig(dir) problems = %v, want none", problems)
		}
		if diff := cmp.Diff([]string{filepath.Join(dir, "a.yaml")}, cfg.Files); diff != "" {
			t.Errorf("LoadConfig(dir) files (-want +got):\n%s", diff)
		}
	})
	t.Run("no config files", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, dir, "notes.txt", "x")
		_, problems := LoadConfig(dir, "")
		if len(problems) != 1 || !strings.Contains(problems[0].Detail, ErrNoConfigFiles.Error()) {
			t.Errorf("LoadConfig(dir) problems = %v, want one %q", problems, ErrNoConfigFiles)
		}
		if _, err := ConfigFiles(dir); !errors.Is(err, ErrNoConfigFiles) {
			t.Errorf("ConfigFiles(dir) error = %v, want %v", err, ErrNoConfigFiles)
		}
	})
	t.Run("bad file does not hide the others", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, dir, "a.yaml", "kind: [\n")
		writeFile(t, dir, "b.yaml", header+"providers:\n"+provider("b"))
		cfg, problems := LoadConfig(dir, "")
		if got := len(problems.Errors()); got != 1 {
			t.Errorf("LoadConfig(dir) errors = %v, want 1", problems)
		}
		if diff := cmp.Diff([]string{"b@b.yaml"}, names(cfg)); diff != "" {
			t.Errorf("LoadConfig(dir) providers (-want +got):\n%s", diff)
		}
	})
	t.Run("missing path", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "nope.yaml")
		want := []string{"error: " + path + ": unable to access path: no such file or directory"}
		if diff := cmp.Diff(want, problemLines(path, "/nowhere")); diff != "" {
			t.Errorf("LoadConfig(%q) problems (-want +got):\n%s", path, diff)
		}
	})
}

func TestCheckBinaries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := plugintest.BinDir(t, "ok")
	writeFile(t, bin, "not-executable", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(bin, "not-executable"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(bin, "a-directory"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, dir, "c.yaml", header+"providers:\n"+provider(plugintest.Prefix+"ok")+provider("missing")+provider("not-executable")+provider("a-directory")+provider("a/b"))
	_, problems := LoadConfig(path, bin)
	var got []string
	for _, p := range problems {
		got = append(got, strings.NewReplacer(dir+"/", "", bin+"/", "BIN/").Replace(p.String()))
	}
	want := []string{
		`c.yaml: providers[4].name: Invalid value: "a/b": provider name cannot contain '/'`,
		"c.yaml: providers[1].name: Not found: plugin binary not found: BIN/missing: the kubelet refuses to start",
		"c.yaml: providers[2].name: Forbidden: plugin binary is not executable: BIN/not-executable (missing execute permission): the kubelet refuses to start",
		"c.yaml: providers[3].name: Forbidden: plugin binary is not executable: BIN/a-directory: is a directory: the kubelet refuses to start",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadConfig(%q, %q) problems (-want +got):\n%s", path, bin, diff)
	}

	missing := filepath.Join(dir, "no-bin-dir")
	_, problems = LoadConfig(path, missing)
	if n := len(problems.Errors()); n != 2 || !strings.Contains(problems[1].Detail, ErrBinDirNotFound.Error()) {
		t.Errorf("LoadConfig(%q, %q) problems = %v, want the name error and %q", path, missing, problems, ErrBinDirNotFound)
	}
}

func TestFindBinary(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "ok")
	tests := []struct {
		name    string
		binary  string
		wantErr error
	}{
		{name: "found", binary: plugintest.Prefix + "ok"},
		{name: "missing", binary: "missing", wantErr: ErrBinaryNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FindBinary(bin, tt.binary)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("FindBinary(%q, %q) error = %v, want %v", bin, tt.binary, err, tt.wantErr)
			}
			if want := filepath.Join(bin, tt.binary); got != want {
				t.Errorf("FindBinary(%q, %q) = %q, want %q", bin, tt.binary, got, want)
			}
		})
	}
}

func TestProblemsErr(t *testing.T) {
	t.Parallel()
	ps := Problems{warnf("f", "x", "T", "only a warning")}
	if err := ps.Err(); err != nil {
		t.Errorf("Problems{warning}.Err() = %v, want nil", err)
	}
	ps = append(ps, errorf("f", "providers", "Required value", "at least 1"))
	err := ps.Err()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Problems{error}.Err() = %v, want %v", err, ErrInvalidConfig)
	}
	if want := "invalid credential provider config: f: providers: Required value: at least 1"; err.Error() != want {
		t.Errorf("Problems{error}.Err() = %q, want %q", err, want)
	}
}
