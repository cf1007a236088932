package pullsecret

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
)

// Secrets of the test documents: none may appear in a report without --show-secrets.
const (
	testUser     = "alice"
	testPassword = "Secr3t-PW-1"
)

var (
	testAuth   = EncodeAuth(testUser, testPassword)
	goodConfig = fmt.Sprintf(`{"auths":{"registry.example.io":{"username":%q,"password":%q,"auth":%q}}}`, testUser, testPassword, testAuth)
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// secretYAML returns a Secret document with the given type line and data lines.
func secretYAML(typ string, data ...string) string {
	s := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\n  namespace: apps\n"
	if typ != "" {
		s += "type: " + typ + "\n"
	}
	if len(data) > 0 {
		s += "data:\n"
		for _, d := range data {
			s += "  " + d + "\n"
		}
	}
	return s
}

// configSecret returns a dockerconfigjson Secret holding config under .dockerconfigjson.
func configSecret(config string) string {
	return secretYAML("kubernetes.io/dockerconfigjson", ".dockerconfigjson: "+b64(config))
}

// entrySecret returns a Secret whose docker config has one entry for registry.example.io.
func entrySecret(entry string) string {
	return configSecret(`{"auths":{"registry.example.io":` + entry + `}}`)
}

// brokenForms are Secrets with one thing wrong each, and what check must say of them.
var brokenForms = []struct {
	name string
	in   string
	// want are substrings of the findings' String(), each in a different finding.
	want []string
	// errors is the number of error findings.
	errors int
}{
	{name: "empty input", in: "\n\n", want: []string{"error: the input is empty"}, errors: 1},
	{name: "only comments", in: "# nothing\n---\n# more\n", want: []string{"no YAML document"}, errors: 1},
	{name: "invalid YAML", in: "apiVersion: v1\nkind: [Secret\n", want: []string{"error: not valid YAML: yaml: line"}, errors: 1},
	{name: "invalid JSON", in: "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Secret\"\n  \"type\": \"x\"\n}", want: []string{"not valid JSON: invalid JSON at line 4, column 3"}, errors: 1},
	{name: "a YAML list", in: "- a\n- b\n", want: []string{"the document is a list, not a Kubernetes object"}, errors: 1},
	{name: "a string", in: "hello\n", want: []string{"the document is a string"}, errors: 1},
	{name: "two documents", in: configSecret(goodConfig) + "---\n" + "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
		want: []string{`the input holds 2 YAML documents (Secret "regcred" (kubernetes.io/dockerconfigjson), ConfigMap "cm")`}, errors: 1},
	{name: "a List of Secrets", in: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: one}\n  type: kubernetes.io/dockerconfigjson\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: two}\n  type: Opaque\n",
		want: []string{`error: kind: this is a List of 2 item(s) (items: Secret "one" (kubernetes.io/dockerconfigjson), Secret "two" (Opaque)), not a Secret`}, errors: 1},
	{name: "a SecretList", in: `{"apiVersion":"v1","kind":"SecretList","items":[]}`, want: []string{"this is a SecretList of 0 item(s) (no items)"}, errors: 1},
	{name: "a docker config file", in: goodConfig, want: []string{"this is a docker config file (config.json), not a Kubernetes Secret; make a Secret of it with `pullkeys secret create NAME --from-docker-config FILE`"}, errors: 1},
	{name: "no kind", in: "apiVersion: v1\nmetadata: {name: x}\n", want: []string{"error: kind: no kind: not a Kubernetes object"}, errors: 1},
	{name: "a ConfigMap", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", want: []string{`error: kind: kind is "ConfigMap", not Secret`}, errors: 1},
	{name: "wrong apiVersion", in: strings.Replace(configSecret(goodConfig), "apiVersion: v1", "apiVersion: apps/v1", 1), want: []string{`error: apiVersion: apiVersion is "apps/v1"`}, errors: 1},
	{name: "no apiVersion", in: strings.Replace(configSecret(goodConfig), "apiVersion: v1\n", "", 1), want: []string{"error: apiVersion: no apiVersion"}, errors: 1},
	{name: "no type", in: secretYAML("", ".dockerconfigjson: "+b64(goodConfig)), want: []string{"error: type: missing, so the API server makes it Opaque"}, errors: 1},
	{name: "Opaque", in: secretYAML("Opaque", ".dockerconfigjson: "+b64(goodConfig)), want: []string{`error: type: "Opaque": the kubelet uses a Secret as a pull secret only when`}, errors: 1},
	{name: "type in the wrong case", in: secretYAML("kubernetes.io/dockerConfigJson", ".dockerconfigjson: "+b64(goodConfig)), want: []string{"did you mean kubernetes.io/dockerconfigjson?"}, errors: 1},
	{name: "basic-auth type without the key", in: secretYAML("kubernetes.io/basic-auth", "username: "+b64("u")), want: []string{`type: "kubernetes.io/basic-auth"`}, errors: 1},
	{name: "missing key", in: secretYAML("kubernetes.io/dockerconfigjson", "config: "+b64(goodConfig)),
		want: []string{`error: data: no .dockerconfigjson key (keys: ["config"])`}, errors: 1},
	{name: "key without the dot", in: secretYAML("kubernetes.io/dockerconfigjson", "dockerconfigjson: "+b64(goodConfig)),
		want: []string{`did you mean .dockerconfigjson for "dockerconfigjson"?`}, errors: 1},
	{name: "legacy key in a dockerconfigjson secret", in: secretYAML("kubernetes.io/dockerconfigjson", ".dockercfg: "+b64(goodConfig)),
		want: []string{".dockercfg is the key of the legacy type kubernetes.io/dockercfg"}, errors: 1},
	{name: "no data at all", in: secretYAML("kubernetes.io/dockerconfigjson"), want: []string{"no .dockerconfigjson key (keys: [])"}, errors: 1},
	{name: "base64 wrapped over two lines", in: secretYAML("kubernetes.io/dockerconfigjson", ".dockerconfigjson: "+b64(goodConfig)[:76]+"\n    "+b64(goodConfig)[76:]),
		want: []string{"error: data[.dockerconfigjson]: not valid base64 (bad data at byte 76 of 153, a space: was the base64 wrapped"}, errors: 1},
	{name: "URL-safe base64", in: secretYAML("kubernetes.io/dockerconfigjson", ".dockerconfigjson: "+base64.URLEncoding.EncodeToString([]byte(goodConfig+"??>>"))),
		want: []string{"that is the URL-safe base64 alphabet"}, errors: 1},
	{name: "base64 cut short", in: secretYAML("kubernetes.io/dockerconfigjson", ".dockerconfigjson: "+b64(goodConfig)[:len(b64(goodConfig))-2]),
		want: []string{"the length is not a multiple of 4"}, errors: 1},
	{name: "plain JSON under data", in: secretYAML("kubernetes.io/dockerconfigjson", ".dockerconfigjson: '"+goodConfig+"'"),
		want: []string{"bad data at byte 0 of 113: it starts with '{', so it is the JSON itself"}, errors: 1},
	{name: "base64 twice", in: secretYAML("kubernetes.io/dockerconfigjson", ".dockerconfigjson: "+b64(b64(goodConfig))),
		want: []string{"error: data[.dockerconfigjson]: decodes to base64 text, not JSON: the value was base64-encoded twice"}, errors: 1},
	{name: "base64 under stringData", in: secretYAML("kubernetes.io/dockerconfigjson") + "stringData:\n  .dockerconfigjson: " + b64(goodConfig) + "\n",
		want: []string{"error: stringData[.dockerconfigjson]: base64 text, not JSON: stringData takes the docker config as plain JSON"}, errors: 1},
	{name: "not JSON", in: configSecret("auths: {}"), want: []string{"not a JSON object (invalid JSON at line 1, column 1)"}, errors: 1},
	{name: "JSON array", in: configSecret(`[{"auths":{}}]`), want: []string{"not a JSON object (a JSON array, want an object)"}, errors: 1},
	{name: "empty value", in: secretYAML("kubernetes.io/dockerconfigjson", `.dockerconfigjson: ""`), want: []string{"error: data[.dockerconfigjson]: empty"}, errors: 1},
	{name: "data value not a string", in: secretYAML("kubernetes.io/dockerconfigjson", ".dockerconfigjson: 12"), want: []string{"a JSON number, want a base64 string"}, errors: 1},
	{name: "no auths", in: configSecret(`{"registries":{}}`), want: []string{`no "auths": the kubelet reads only auths`}, errors: 1},
	{name: "legacy shape in a dockerconfigjson secret", in: configSecret(fmt.Sprintf(`{"registry.example.io":{"auth":%q}}`, testAuth)),
		want: []string{"the legacy .dockercfg shape: wrap them as"}, errors: 1},
	{name: "only a credsStore", in: configSecret(`{"auths":{"registry.example.io":{}},"credsStore":"desktop"}`),
		want: []string{"warning: data[.dockerconfigjson]: credsStore is ignored", `warning: auths["registry.example.io"]: no credentials`, "error: no entry with credentials"}, errors: 1},
	{name: "auths not an object", in: configSecret(`{"auths":["registry.example.io"]}`),
		want: []string{"data[.dockerconfigjson].auths: a JSON array, want an object of registries: the kubelet cannot read this Secret"}, errors: 1},
	{name: "auths empty", in: configSecret(`{"auths":{}}`), want: []string{"data[.dockerconfigjson].auths: empty"}, errors: 1},
	{name: "auths null", in: configSecret(`{"auths":null}`), want: []string{"data[.dockerconfigjson].auths: null"}, errors: 1},
	{name: "entry not an object", in: entrySecret(`"` + testAuth + `"`), want: []string{`error: auths["registry.example.io"]: a JSON string, want an object`}, errors: 1},
	{name: "password a number", in: entrySecret(`{"username":"alice","password":12345}`), want: []string{`error: auths["registry.example.io"]: field "password" is a JSON number, want a string`}, errors: 1},
	{name: "auth not base64", in: entrySecret(`{"auth":"YWxpY2U6U2Vj!!!"}`),
		want: []string{`error: auths["registry.example.io"].auth: not base64: bad data at byte 12 of 15, a character outside the base64 alphabet: the kubelet cannot read this Secret and fails every pull`}, errors: 1},
	{name: "auth with a space", in: entrySecret(`{"auth":" ` + testAuth + `"}`), want: []string{`auth: not base64: bad data at byte 0 of 25, a space`}, errors: 1},
	{name: "auth without a colon", in: entrySecret(`{"auth":"` + b64(testPassword) + `"}`),
		want: []string{`error: auths["registry.example.io"].auth: decodes to text without a colon: want base64 of user:password`}, errors: 1},
	{name: "auth of echo output", in: entrySecret(`{"auth":"` + b64(testUser+":"+testPassword+"\n") + `"}`),
		want: []string{`warning: auths["registry.example.io"].auth: the decoded user name or password starts or ends with white space or a line break: was it encoded with echo`}},
	{name: "auth disagrees with the fields", in: entrySecret(fmt.Sprintf(`{"username":"bob","password":"other-pass","auth":%q}`, testAuth)),
		want: []string{"username or password differ from auth: the kubelet uses auth"}},
	{name: "identity token only", in: entrySecret(`{"identitytoken":"refresh-token-xyz"}`),
		want: []string{"no credentials (identitytoken is ignored by the kubelet)", "error: no entry with credentials"}, errors: 1},
	{name: "Docker Hub under registry-1", in: configSecret(fmt.Sprintf(`{"auths":{"registry-1.docker.io":{"auth":%q}}}`, testAuth)),
		want: []string{"this key matches none of them: use https://index.docker.io/v1/"}},
	{name: "one registry twice", in: configSecret(fmt.Sprintf(`{"auths":{"https://registry.example.io":{"auth":%q},"registry.example.io/":{"auth":%q}}}`, testAuth, testAuth)),
		want: []string{`keys ["https://registry.example.io" "registry.example.io/"] are the same registry (registry.example.io)`}},
	{name: "key that is not a URL", in: configSecret(fmt.Sprintf(`{"auths":{"registry example io":{"auth":%q},"registry.example.io":{"auth":%q}}}`, testAuth, testAuth)),
		want: []string{`warning: auths["registry example io"]: the key does not parse as a URL: the kubelet ignores this entry`}},
	{name: "HttpHeaders of the wrong type", in: configSecret(fmt.Sprintf(`{"auths":{"registry.example.io":{"auth":%q}},"HttpHeaders":["x"]}`, testAuth)),
		want: []string{"HttpHeaders is a JSON array, want an object of strings"}, errors: 1},
	{name: "unknown field", in: configSecret(goodConfig) + "datas:\n  x: eA==\n", want: []string{`error: unknown field "datas": kubectl apply and create reject it`}, errors: 1},
	{name: "field in the wrong case", in: strings.Replace(configSecret(goodConfig), "\ndata:", "\nData:", 1),
		want: []string{`unknown field "Data": kubectl apply and create reject it (strict field validation, their default); field names are case-sensitive: did you mean data?`, "no .dockerconfigjson key"}, errors: 2},
	{name: "unknown metadata field", in: strings.Replace(configSecret(goodConfig), "  namespace: apps", "  namespce: apps", 1), want: []string{`unknown field "metadata.namespce"`}, errors: 1},
	{name: "duplicate YAML key", in: configSecret(goodConfig) + "type: Opaque\n", want: []string{`warning: duplicate key in the YAML (yaml: unmarshal errors: line 9: key "type" already set in map)`, `type: "Opaque"`}, errors: 1},
	{name: "duplicate JSON field", in: `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"},"type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":"` + b64(goodConfig) + `"},"type":"Opaque"}`,
		want: []string{`error: duplicate field "type"`, `type: "Opaque"`}, errors: 2},
	{name: "metadata of the wrong type", in: `{"apiVersion":"v1","kind":"Secret","metadata":"regcred"}`, want: []string{`not a valid Secret: field "metadata" is a JSON string, want an object`}, errors: 1},
	{name: "missing name", in: strings.Replace(configSecret(goodConfig), "  name: regcred\n", "", 1), want: []string{"error: metadata.name: missing"}, errors: 1},
	{name: "invalid name", in: strings.Replace(configSecret(goodConfig), "name: regcred", "name: Reg_Cred", 1), want: []string{`error: metadata.name: "Reg_Cred" is not a valid name`}, errors: 1},
	{name: "invalid namespace", in: strings.Replace(configSecret(goodConfig), "namespace: apps", "namespace: team.apps", 1), want: []string{`metadata.namespace: "team.apps" is not a valid namespace`}, errors: 1},
	{name: "invalid data key", in: configSecret(goodConfig) + "stringData:\n  'bad key': x\n", want: []string{"stringData[bad key]: invalid key"}, errors: 1},
	{name: "legacy type holding config.json", in: secretYAML("kubernetes.io/dockercfg", ".dockercfg: "+b64(goodConfig)),
		want: []string{`holds "auths", the config.json shape`}, errors: 1},
}

func TestCheckBrokenForms(t *testing.T) {
	for _, tc := range brokenForms {
		t.Run(tc.name, func(t *testing.T) {
			r := Check([]byte(tc.in), CheckOptions{Source: "test.yaml"})
			var got []string
			for _, f := range r.Findings {
				got = append(got, f.String())
			}
			used := make([]bool, len(got))
		want:
			for _, w := range tc.want {
				for i, g := range got {
					if !used[i] && strings.Contains(g, w) {
						used[i] = true
						continue want
					}
				}
				t.Errorf("Check(%s) findings:\n  %s\nwant one containing %q", tc.name, strings.Join(got, "\n  "), w)
			}
			if r.Errors() != tc.errors {
				t.Errorf("Check(%s) has %d errors, want %d:\n  %s", tc.name, r.Errors(), tc.errors, strings.Join(got, "\n  "))
			}
			if r.OK() != (tc.errors == 0) {
				t.Errorf("Check(%s).OK() = %v, want %v", tc.name, r.OK(), tc.errors == 0)
			}
		})
	}
}

// TestCheckCommandExitStatus runs the broken forms through the command: exit 1 for errors,
// the report on stdout, nothing on stderr, and no secret anywhere.
func TestCheckCommandExitStatus(t *testing.T) {
	for _, tc := range brokenForms {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "secret.yaml", tc.in)
			code, stdout, stderr := run(t, "", "check", path)
			want := ExitOK
			if tc.errors > 0 {
				want = ExitProblems
			}
			if code != want || stderr != "" {
				t.Errorf("Command(check %s) = %d, stderr %q; want %d and nothing", tc.name, code, stderr, want)
			}
			if !strings.HasPrefix(stdout, path+":") {
				t.Errorf("Command(check %s) stdout = %q, want it to start with %q", tc.name, stdout, path+":")
			}
			assertNoSecret(t, "check "+tc.name, stdout+stderr)
		})
	}
}

// assertNoSecret fails when out holds one of the test secrets in any form.
func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, secret := range []string{testPassword, testAuth, b64(testPassword), "refresh-token-xyz", "other-pass", b64(goodConfig)} {
		if strings.Contains(out, secret) {
			t.Errorf("%s: output holds the secret %q:\n%s", what, secret, out)
		}
	}
}

func TestCheckGoodSecrets(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		want   []Registry
	}{
		{
			name: "kubectl basic", golden: "basic.yaml",
			want: []Registry{{Key: "registry.example.io", Pattern: "registry.example.io", Username: "alice", Password: "********(11 chars)",
				Matches: "images on registry.example.io with no port in the image name, any repository"}},
		},
		{
			name: "kubectl json", golden: "basic.json",
			want: []Registry{{Key: "registry.example.io", Pattern: "registry.example.io", Username: "alice", Password: "********(11 chars)",
				Matches: "images on registry.example.io with no port in the image name, any repository"}},
		},
		{
			name: "kubectl Docker Hub with email", golden: "dockerhub-email-namespace.yaml",
			want: []Registry{{Key: "https://index.docker.io/v1/", Pattern: "index.docker.io", Username: "bob", Password: "********(12 chars)", Email: "bob@example.io",
				Matches: "Docker Hub images (docker.io/…) that no other entry matches, by the kubelet's fallback"}},
		},
		{
			name: "kubectl port and path", golden: "special.yaml",
			want: []Registry{{Key: "registry.example.io:5000/team", Pattern: "registry.example.io:5000/team", Username: "us€r", Password: "********(14 chars)", Email: "a+b@example.io",
				Matches: `images on registry.example.io port 5000 only, repositories starting with "team" (a plain prefix: "teamx" matches too)`}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "golden", tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			r := Check(data, CheckOptions{})
			if !r.OK() || len(r.Findings) != 0 {
				t.Fatalf("Check(%s) findings %v, want none", tc.golden, r.Findings)
			}
			if diff := cmp.Diff(tc.want, r.Registries, cmpopts.IgnoreUnexported(Registry{})); diff != "" {
				t.Errorf("Check(%s) registries (-want +got):\n%s", tc.golden, diff)
			}
		})
	}
}

func TestCheckStringDataAndLegacy(t *testing.T) {
	tests := []struct {
		name string
		in   string
		keys []string
	}{
		{
			name: "stringData with plain JSON",
			in:   secretYAML("kubernetes.io/dockerconfigjson") + "stringData:\n  .dockerconfigjson: '" + goodConfig + "'\n",
			keys: []string{"registry.example.io"},
		},
		{
			name: "stringData as a YAML block",
			in:   secretYAML("kubernetes.io/dockerconfigjson") + "stringData:\n  .dockerconfigjson: |\n    {\"auths\": {\"registry.example.io\": {\"auth\": \"" + testAuth + "\"}}}\n",
			keys: []string{"registry.example.io"},
		},
		{
			name: "base64 as a YAML block keeps its line breaks, which base64 ignores",
			in:   secretYAML("kubernetes.io/dockerconfigjson", ".dockerconfigjson: |\n    "+b64(goodConfig)[:40]+"\n    "+b64(goodConfig)[40:]),
			keys: []string{"registry.example.io"},
		},
		{
			name: "legacy dockercfg",
			in:   secretYAML("kubernetes.io/dockercfg", ".dockercfg: "+b64(fmt.Sprintf(`{"registry.example.io":{"auth":%q,"email":"a@example.io"},"https://index.docker.io/v1/":{"username":"u","password":"p"}}`, testAuth))),
			keys: []string{"registry.example.io", "https://index.docker.io/v1/"},
		},
		{
			name: "unpadded auth, as the kubelet accepts",
			in:   entrySecret(`{"auth":"` + strings.TrimRight(testAuth, "=") + `"}`),
			keys: []string{"registry.example.io"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Check([]byte(tc.in), CheckOptions{ShowSecrets: true})
			if !r.OK() {
				t.Fatalf("Check(%s) findings %v, want none", tc.name, r.Findings)
			}
			var keys []string
			for _, reg := range r.Registries {
				keys = append(keys, reg.Key)
				if reg.Key == "registry.example.io" && (reg.Username != testUser || reg.Password != testPassword) {
					t.Errorf("Check(%s) registry %s = %q/%q, want %q/%q", tc.name, reg.Key, reg.Username, reg.Password, testUser, testPassword)
				}
			}
			if diff := cmp.Diff(tc.keys, keys); diff != "" {
				t.Errorf("Check(%s) registry keys (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

func TestCheckImages(t *testing.T) {
	config := fmt.Sprintf(`{"auths":{
		"registry.example.io":{"auth":%[1]q},
		"registry.example.io/team":{"auth":%[1]q},
		"*.example.io":{"auth":%[1]q},
		"registry.example.io:5000":{"auth":%[1]q},
		"https://index.docker.io/v1/":{"auth":%[1]q}}}`, testAuth)
	tests := []struct {
		name     string
		image    string
		uses     []string
		fallback bool
		misses   []string // reasons, in the order of the registries
	}{
		{name: "path key first, then host, then glob", image: "registry.example.io/team/app:1.0",
			uses: []string{"registry.example.io/team", "registry.example.io", "*.example.io"}},
		{name: "path prefix is a string prefix", image: "registry.example.io/teamx/app",
			uses: []string{"registry.example.io/team", "registry.example.io", "*.example.io"}},
		{name: "other path", image: "registry.example.io/other/app", uses: []string{"registry.example.io", "*.example.io"}},
		{name: "glob only", image: "mirror.example.io/app", uses: []string{"*.example.io"}},
		{name: "port must be equal", image: "registry.example.io:5000/app", uses: []string{"registry.example.io:5000"}},
		{name: "Docker Hub fallback", image: "nginx:1.27", uses: []string{"https://index.docker.io/v1/"}, fallback: true},
		{name: "no match", image: "quay.io/org/app",
			misses: []string{"port", "label count", "label count", "label count", "label count"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Check([]byte(configSecret(config)), CheckOptions{Images: []string{tc.image}})
			if len(r.Images) != 1 {
				t.Fatalf("Check(--image %s) images = %+v, want one", tc.image, r.Images)
			}
			got := r.Images[0]
			if diff := cmp.Diff(tc.uses, got.Uses, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Check(--image %s) uses (-want +got):\n%s", tc.image, diff)
			}
			if got.DockerHubFallback != tc.fallback {
				t.Errorf("Check(--image %s) fallback = %v, want %v", tc.image, got.DockerHubFallback, tc.fallback)
			}
			var reasons []string
			for _, m := range got.Misses {
				reasons = append(reasons, m.Reason)
			}
			if diff := cmp.Diff(tc.misses, reasons, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Check(--image %s) reasons (-want +got):\n%s", tc.image, diff)
			}
			if r.OK() != (len(tc.uses) > 0) {
				t.Errorf("Check(--image %s).OK() = %v with findings %v", tc.image, r.OK(), r.Findings)
			}
		})
	}
}

func TestCheckShowSecrets(t *testing.T) {
	path := writeFile(t, "secret.yaml", configSecret(goodConfig))
	code, masked, _ := run(t, "", "check", path)
	if code != ExitOK || !strings.Contains(masked, "password ********(11 chars)") {
		t.Errorf("Command(check) = %d, %q; want 0 and a masked password", code, masked)
	}
	assertNoSecret(t, "check", masked)
	code, shown, _ := run(t, "", "check", "--show-secrets", path)
	if code != ExitOK || !strings.Contains(shown, "password "+testPassword) {
		t.Errorf("Command(check --show-secrets) = %d, %q; want 0 and the password", code, shown)
	}
	code, js, _ := run(t, "", "check", "-o", "json", path)
	if code != ExitOK {
		t.Fatalf("Command(check -o json) = %d", code)
	}
	assertNoSecret(t, "check -o json", js)
	var r Report
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatalf("Command(check -o json) = %q: %v", js, err)
	}
	if len(r.Registries) != 1 || r.Registries[0].Password != "********(11 chars)" || r.Type != string(corev1.SecretTypeDockerConfigJson) {
		t.Errorf("Command(check -o json) = %+v", r)
	}
}

func TestCheckStdinAndUsage(t *testing.T) {
	code, stdout, _ := run(t, configSecret(goodConfig), "check", "-")
	if code != ExitOK || !strings.HasPrefix(stdout, `stdin: Secret "regcred" in namespace "apps"`) {
		t.Errorf("Command(check -) = %d, %q", code, stdout)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "no file", args: []string{"check"}, code: ExitUsage, want: "want one FILE"},
		{name: "two files", args: []string{"check", "a", "b"}, code: ExitUsage, want: "want one FILE"},
		{name: "bad output", args: []string{"check", "-o", "yaml", "-"}, code: ExitUsage, want: "want text or json"},
		{name: "missing file", args: []string{"check", filepath.Join(t.TempDir(), "none.yaml")}, code: ExitProblems, want: "no such file"},
		{name: "unknown command", args: []string{"apply"}, code: ExitUsage, want: `unknown command "apply"`},
		{name: "no command", args: nil, code: ExitUsage, want: "Usage: pullkeys secret COMMAND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", tc.args...)
			if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.want) {
				t.Errorf("Command(%q) = %d, stdout %q, stderr %q; want %d, nothing, %q", tc.args, code, stdout, stderr, tc.code, tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"create", "--help"}, {"check", "-h"}, {"help", "create"}} {
		code, stdout, stderr := run(t, "", args...)
		if code != ExitOK || stdout == "" || stderr != "" {
			t.Errorf("Command(%q) = %d, stdout %q, stderr %q; want 0, help, nothing", args, code, stdout, stderr)
		}
	}
}

// TestSecretDocMirrorsSecret keeps secretDoc's JSON fields those of corev1.Secret, so that
// check's strict decoding flags exactly the fields the API server does not know.
func TestSecretDocMirrorsSecret(t *testing.T) {
	fields := func(t reflect.Type) []string {
		var out []string
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			out = append(out, name)
		}
		slices.Sort(out)
		return out
	}
	if diff := cmp.Diff(fields(reflect.TypeFor[corev1.Secret]()), fields(reflect.TypeFor[secretDoc]())); diff != "" {
		t.Errorf("secretDoc fields differ from corev1.Secret's (-Secret +secretDoc):\n%s", diff)
	}
}

func TestBase64Problem(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "space", in: "YWJj ZGVm", want: "bad data at byte 4 of 9, a space"},
		{name: "url-safe", in: "YW-j", want: "bad data at byte 2 of 4, a '-' or '_'"},
		{name: "short", in: "YWJjZA", want: "bad data at byte 4 of 6: the length is not a multiple of 4"},
		{name: "padding incomplete", in: "YWJjZA=", want: "bad data at byte 7 of 7: the value ends early"},
		{name: "two values", in: "YWI=YWJj", want: "bad data at byte 4 of 8: data after '=' padding"},
		{name: "padding in the middle", in: "YW=jYWJj", want: "bad data at byte 2 of 8, a '=' (padding) before the end"},
		{name: "JSON", in: `{"auths":{}}`, want: "bad data at byte 0 of 12: it starts with '{'"},
		{name: "quoted", in: `"YWJj"`, want: "bad data at byte 0 of 6, a quote"},
		{name: "non-ASCII", in: "YWJj\u00e9", want: "bad data at byte 4 of 6, a non-ASCII byte"},
		{name: "control", in: "YW\x01j", want: "bad data at byte 2 of 4, a control character"},
		{name: "other", in: "YW*j", want: "bad data at byte 2 of 4, a character outside the base64 alphabet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeDataValue(tc.in)
			if err == nil {
				t.Fatalf("decodeDataValue(%q) = nil error", tc.in)
			}
			if got := base64Problem(tc.in, err); !strings.HasPrefix(got, tc.want) {
				t.Errorf("base64Problem(%q) = %q, want prefix %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDecodeKubeletAuth(t *testing.T) {
	tests := []struct {
		name, field, user, pass string
		ok                      bool
	}{
		{name: "padded", field: b64("u:p"), user: "u", pass: "p", ok: true},
		{name: "unpadded", field: strings.TrimRight(b64("user:pw"), "="), user: "user", pass: "pw", ok: true},
		{name: "split at the first colon", field: b64("u:p:q"), user: "u", pass: "p:q", ok: true},
		{name: "empty user", field: b64(":p"), user: "", pass: "p", ok: true},
		{name: "line break inside is ignored", field: b64("user:password")[:8] + "\n" + b64("user:password")[8:], user: "user", pass: "password", ok: true},
		{name: "trailing space after padding: the kubelet decodes untrimmed and fails", field: b64("u:p") + " "},
		{name: "leading space: the kubelet fails", field: " " + b64("user:pw")},
		{name: "no colon", field: b64("token")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, pass, err := decodeKubeletAuth(tc.field)
			if (err == nil) != tc.ok || user != tc.user || pass != tc.pass {
				t.Errorf("decodeKubeletAuth(%q) = %q, %q, %v; want %q, %q, ok %v", tc.field, user, pass, err, tc.user, tc.pass, tc.ok)
			}
		})
	}
}
