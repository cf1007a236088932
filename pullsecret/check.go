package pullsecret

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/pullkeys/pullkeys/dockercfg"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// MaxSecretBytes is the largest Secret the API server stores (its data, 1 MiB); Check reads
// documents up to four times that, to allow for base64 and YAML.
const MaxSecretBytes = 1 << 20

// Severity grades a Finding, as it grades a kubelet.Problem.
type Severity = kubelet.Severity

// The severities of a Finding.
const (
	// SeverityError: the API server rejects the Secret, or the kubelet fails on it or gets no
	// credentials from it.
	SeverityError = kubelet.SeverityError
	// SeverityWarning: accepted and read, but probably not what was meant.
	SeverityWarning = kubelet.SeverityWarning
)

// Finding is one thing wrong with a Secret. It never quotes a secret value.
type Finding struct {
	Severity Severity `json:"severity"`
	// Field is where: "type", "data[.dockerconfigjson]", `auths["registry.example.io"].auth`.
	Field string `json:"field,omitempty"`
	// Problem says what is wrong and what follows from it.
	Problem string `json:"problem"`
}

// String returns the finding as one line.
func (f Finding) String() string {
	if f.Field == "" {
		return fmt.Sprintf("%s: %s", f.Severity, f.Problem)
	}
	return fmt.Sprintf("%s: %s: %s", f.Severity, f.Field, f.Problem)
}

// Registry is one entry of the Secret's docker config, as the kubelet reads it.
type Registry struct {
	// Key is the entry's key as written, with any user:password@ removed.
	Key string `json:"key"`
	// Pattern is the key normalised as the kubelet matches it (keyring.NormalizeKey); empty
	// when the kubelet cannot parse the key and ignores the entry.
	Pattern  string `json:"pattern"`
	Username string `json:"username"`
	// Password is masked ("********(N chars)") unless secrets are shown.
	Password string `json:"password"`
	Email    string `json:"email,omitempty"`
	// Matches says in words which images the entry serves under the kubelet's rules.
	Matches string `json:"matches"`

	rawKey   string
	password string
}

// ImageResult is which entries of the Secret the kubelet would use for one image.
type ImageResult struct {
	// Image is the image as given; Normalized is what the kubelet matches (no tag or digest,
	// docker.io/library/ filled in).
	Image      string `json:"image"`
	Normalized string `json:"normalized,omitempty"`
	// Uses are the keys whose credentials the kubelet hands to the runtime, in the order the
	// runtime tries them.
	Uses []string `json:"uses"`
	// DockerHubFallback: no key matches the image, and it gets Docker Hub's entry
	// (index.docker.io), as the kubelet does for Docker Hub images.
	DockerHubFallback bool `json:"dockerHubFallback,omitempty"`
	// Misses say, when nothing matches, why each key does not.
	Misses []kubelet.PatternResult `json:"misses,omitempty"`
}

// Report is what Check found.
type Report struct {
	// Source names the input ("stdin" or a file name).
	Source     string `json:"source"`
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Type       string `json:"type,omitempty"`
	// Key is the data key holding the docker config (.dockerconfigjson or .dockercfg).
	Key      string    `json:"key,omitempty"`
	Findings []Finding `json:"findings"`
	// Registries are the docker config's entries in the order the kubelet tries them (keys
	// in reverse lexical order of their pattern).
	Registries []Registry    `json:"registries"`
	Images     []ImageResult `json:"images,omitempty"`

	opts    CheckOptions
	entries []Registry
}

// OK reports whether the Secret has no error: the API server accepts it and the kubelet gets
// credentials from it (for every image asked about).
func (r *Report) OK() bool { return r.Errors() == 0 }

// Errors counts the findings of SeverityError.
func (r *Report) Errors() int { return r.count(SeverityError) }

// Warnings counts the findings of SeverityWarning.
func (r *Report) Warnings() int { return r.count(SeverityWarning) }

func (r *Report) count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

func (r *Report) errorf(field, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Severity: SeverityError, Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (r *Report) warnf(field, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Severity: SeverityWarning, Field: field, Problem: fmt.Sprintf(format, args...)})
}

// CheckOptions are the inputs of Check besides the document.
type CheckOptions struct {
	// Source names the document in the report ("stdin", a file name).
	Source string
	// Images are images to match against the Secret's entries, as a person types them.
	Images []string
	// ShowSecrets puts passwords in the report; otherwise they are masked.
	ShowSecrets bool
}

// secretDoc is a core/v1 Secret with its data values kept raw, so that each value's base64
// is checked on its own. TestSecretDocMirrorsSecret keeps its fields those of corev1.Secret.
type secretDoc struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Immutable         *bool                      `json:"immutable,omitempty"`
	Data              map[string]json.RawMessage `json:"data,omitempty"`
	StringData        map[string]json.RawMessage `json:"stringData,omitempty"`
	Type              corev1.SecretType          `json:"type,omitempty"`
}

// Check reads a Secret (YAML or JSON) and explains what the API server and the kubelet make of
// it as an image pull secret: whether it is a Secret at all (and not a List), its type and
// key, its data's base64 (with the offset of the first bad byte), whether the value is a docker
// config the kubelet can read, and each auths entry's "auth". For a readable config it lists
// the registries in the kubelet's order and, for each of opts.Images, the entries the kubelet
// would use. Findings never quote a secret; passwords are masked unless opts.ShowSecrets.
func Check(data []byte, opts CheckOptions) *Report {
	r := &Report{Source: opts.Source, opts: opts, Findings: []Finding{}, Registries: []Registry{}}
	if r.Source == "" {
		r.Source = "input"
	}
	doc, ok := r.document(data)
	if !ok {
		return r
	}
	if !r.object(doc) {
		return r
	}
	if len(opts.Images) > 0 {
		r.images()
	}
	return r
}

// document splits data into YAML documents and returns the one document as JSON.
func (r *Report) document(data []byte) ([]byte, bool) {
	if len(bytes.TrimSpace(data)) == 0 {
		r.errorf("", "the input is empty: no Secret")
		return nil, false
	}
	if len(data) > 4*MaxSecretBytes {
		r.errorf("", "the input is larger than %d bytes: the API server stores Secrets of at most %d bytes of data", 4*MaxSecretBytes, MaxSecretBytes)
		return nil, false
	}
	trimmed := bytes.TrimSpace(data)
	if trimmed[0] == '{' || trimmed[0] == '[' {
		var v any
		if err := json.Unmarshal(trimmed, &v); err != nil {
			r.errorf("", "not valid JSON: %s", jsonProblem(trimmed, err))
			return nil, false
		}
		return trimmed, true
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		d, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.errorf("", "cannot read the YAML documents: %s", brief(err.Error()))
			return nil, false
		}
		j, err := yaml.YAMLToJSON(d)
		if err != nil {
			r.errorf("", "not valid YAML: %s", brief(err.Error()))
			return nil, false
		}
		if string(bytes.TrimSpace(j)) == "null" {
			continue // only comments, or an empty document between two "---"
		}
		if _, err := yaml.YAMLToJSONStrict(d); err != nil {
			r.warnf("", "duplicate key in the YAML (%s): the last value is used here; kubectl may reject the file", brief(err.Error()))
		}
		docs = append(docs, j)
	}
	switch len(docs) {
	case 0:
		r.errorf("", "the input holds no YAML document, only comments or separators")
		return nil, false
	case 1:
		return docs[0], true
	}
	var kinds []string
	for _, d := range docs {
		kinds = append(kinds, describeObject(d))
	}
	r.errorf("", "the input holds %d YAML documents (%s); check takes one Secret: check each one on its own", len(docs), strings.Join(kinds, ", "))
	return nil, false
}

// describeObject names a JSON document for a list: `Secret "regcred" (kubernetes.io/dockerconfigjson)`.
func describeObject(doc []byte) string {
	var o struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Type string `json:"type"`
	}
	if json.Unmarshal(doc, &o) != nil {
		return "not an object"
	}
	s := o.Kind
	if s == "" {
		s = "no kind"
	}
	if o.Metadata.Name != "" {
		s += fmt.Sprintf(" %q", o.Metadata.Name)
	}
	if o.Type != "" {
		s += " (" + o.Type + ")"
	}
	return s
}

// object checks the one document: a Secret of the right type with a readable docker config.
func (r *Report) object(doc []byte) bool {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil || top == nil {
		var v any
		_ = json.Unmarshal(doc, &v)
		r.errorf("", "the document is %s, not a Kubernetes object", describeValue(v))
		return false
	}
	r.APIVersion, _ = stringField(top, "apiVersion")
	r.Kind, _ = stringField(top, "kind")
	switch {
	case r.Kind == "" && (hasFold(top, "auths") || hasFold(top, "credsStore") || hasFold(top, "credHelpers")):
		r.errorf("kind", "no kind: this is a docker config file (config.json), not a Kubernetes Secret; make a Secret of it with `pullkeys secret create NAME --from-docker-config FILE`")
		return false
	case r.Kind == "":
		r.errorf("kind", "no kind: not a Kubernetes object (want kind: Secret, apiVersion: v1)")
		return false
	case strings.HasSuffix(r.Kind, "List"):
		r.list(top)
		return false
	case r.Kind != "Secret":
		r.errorf("kind", "kind is %q, not Secret", r.Kind)
		return false
	}
	if r.APIVersion != "v1" {
		if r.APIVersion == "" {
			r.errorf("apiVersion", "no apiVersion: a Secret is apiVersion v1 (kubectl refuses an object without one)")
		} else {
			r.errorf("apiVersion", "apiVersion is %q: a Secret is apiVersion v1", r.APIVersion)
		}
	}

	var s secretDoc
	if err := json.Unmarshal(doc, &s); err != nil {
		r.errorf("", "not a valid Secret: %s; the API server rejects it", jsonProblem(doc, err))
		return false
	}
	s = secretDoc{}
	strict, err := sigsjson.UnmarshalStrict(doc, &s)
	if err != nil {
		r.errorf("", "not a valid Secret: %s; the API server rejects it", jsonProblem(doc, err))
		return false
	}
	for _, e := range strict {
		r.errorf("", "%s: kubectl apply and create reject it (strict field validation, their default)%s", brief(e.Error()), fieldHint(e))
	}
	r.Name, r.Namespace, r.Type = s.Name, s.Namespace, string(s.Type)
	r.metadata(&s.ObjectMeta)
	key, ok := r.secretType(s)
	if !ok {
		return false
	}
	value, fromStringData, ok := r.values(s, key)
	if !ok {
		return false
	}
	r.Key = key
	r.content(key, value, fromStringData)
	return true
}

// list explains a List, which check does not take, and what it holds.
func (r *Report) list(top map[string]json.RawMessage) {
	var items []json.RawMessage
	_ = json.Unmarshal(top["items"], &items)
	var names []string
	for i, it := range items {
		if i == 10 {
			names = append(names, fmt.Sprintf("and %d more", len(items)-10))
			break
		}
		names = append(names, describeObject(it))
	}
	what := "no items"
	if len(names) > 0 {
		what = "items: " + strings.Join(names, ", ")
	}
	r.errorf("kind", "this is a %s of %d item(s) (%s), not a Secret; check takes one Secret: get it alone (kubectl get secret NAME -o yaml)", r.Kind, len(items), what)
}

// metadata checks the name and namespace as the API server does.
func (r *Report) metadata(m *metav1.ObjectMeta) {
	switch {
	case m.Name == "" && m.GenerateName != "":
		r.warnf("metadata.name", "no name, only generateName: the name is made up at creation, but pods name their pull secrets (imagePullSecrets[].name)")
	case m.Name == "":
		r.errorf("metadata.name", "missing: kubectl and the API server require a name, and pods refer to a pull secret by it")
	default:
		if errs := validation.IsDNS1123Subdomain(m.Name); len(errs) > 0 {
			r.errorf("metadata.name", "%q is not a valid name: %s", m.Name, strings.Join(errs, "; "))
		}
	}
	if m.Namespace != "" {
		if errs := validation.IsDNS1123Label(m.Namespace); len(errs) > 0 {
			r.errorf("metadata.namespace", "%q is not a valid namespace: %s", m.Namespace, strings.Join(errs, "; "))
		}
	}
}

// secretType checks the type and returns the data key that holds the docker config.
func (r *Report) secretType(s secretDoc) (string, bool) {
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		return corev1.DockerConfigJsonKey, true
	case corev1.SecretTypeDockercfg:
		return corev1.DockerConfigKey, true
	}
	has := func(k string) bool {
		_, d := s.Data[k]
		_, sd := s.StringData[k]
		return d || sd
	}
	why := "the kubelet uses a Secret as a pull secret only when its type is kubernetes.io/dockerconfigjson (or the legacy kubernetes.io/dockercfg), and gives pulls no credentials from any other"
	switch {
	case s.Type == "":
		r.errorf("type", "missing, so the API server makes it Opaque: %s; set type: %s", why, corev1.SecretTypeDockerConfigJson)
	case strings.EqualFold(string(s.Type), string(corev1.SecretTypeDockerConfigJson)) || strings.Contains(strings.ToLower(string(s.Type)), "docker"):
		r.errorf("type", "%q: %s; did you mean %s?", s.Type, why, corev1.SecretTypeDockerConfigJson)
	default:
		r.errorf("type", "%q: %s; set type: %s", s.Type, why, corev1.SecretTypeDockerConfigJson)
	}
	// Look at the content all the same, so that one run shows every fix needed.
	switch {
	case has(corev1.DockerConfigJsonKey):
		return corev1.DockerConfigJsonKey, true
	case has(corev1.DockerConfigKey):
		return corev1.DockerConfigKey, true
	}
	return "", false
}

// values decodes data and stringData as the API server does and returns the value of key.
func (r *Report) values(s secretDoc, key string) (value []byte, fromStringData, ok bool) {
	values := make(map[string][]byte)
	total := 0
	for _, k := range slices.Sorted(maps.Keys(s.Data)) {
		field := fmt.Sprintf("data[%s]", k)
		if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
			r.errorf(field, "invalid key: %s", strings.Join(errs, "; "))
		}
		raw := s.Data[k]
		switch kindOf(raw) {
		case "null":
			values[k] = nil
			continue
		case "string":
		default:
			r.errorf(field, "a JSON %s, want a base64 string: the API server rejects the Secret", kindOf(raw))
			continue
		}
		var text string
		_ = json.Unmarshal(raw, &text)
		v, err := decodeDataValue(text)
		if err != nil {
			r.errorf(field, "not valid base64 (%s): the API server rejects the Secret", base64Problem(text, err))
			continue
		}
		values[k] = v
		total += len(v)
	}
	for _, k := range slices.Sorted(maps.Keys(s.StringData)) {
		field := fmt.Sprintf("stringData[%s]", k)
		if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
			r.errorf(field, "invalid key: %s", strings.Join(errs, "; "))
		}
		raw := s.StringData[k]
		var text string
		switch kindOf(raw) {
		case "null":
		case "string":
			_ = json.Unmarshal(raw, &text)
		default:
			r.errorf(field, "a JSON %s, want a string: the API server rejects the Secret", kindOf(raw))
			continue
		}
		if _, dup := s.Data[k]; dup {
			r.warnf(field, "also in data: the API server keeps the stringData value")
		}
		values[k] = []byte(text)
		total += len(text)
	}
	if total > MaxSecretBytes {
		r.errorf("data", "%d bytes: the API server refuses Secrets over %d bytes", total, MaxSecretBytes)
	}
	v, found := values[key]
	_, fromStringData = s.StringData[key]
	if !found {
		if _, inData := s.Data[key]; inData {
			return nil, false, false // its problem is reported above
		}
		keys := slices.Sorted(maps.Keys(values))
		r.errorf("data", "no %s key (keys: %q): the API server rejects a %s Secret without it%s", key, keys, typeForKey(key), keyHint(key, keys))
		return nil, false, false
	}
	field := fmt.Sprintf("data[%s]", key)
	if fromStringData {
		field = fmt.Sprintf("stringData[%s]", key)
	}
	if len(bytes.TrimSpace(v)) == 0 {
		r.errorf(field, "empty: the API server rejects it (not JSON), and the kubelet skips an empty docker config")
		return nil, false, false
	}
	return v, fromStringData, true
}

func typeForKey(key string) corev1.SecretType {
	if key == corev1.DockerConfigKey {
		return corev1.SecretTypeDockercfg
	}
	return corev1.SecretTypeDockerConfigJson
}

// keyHint suggests the key meant among keys.
func keyHint(want string, keys []string) string {
	norm := func(s string) string {
		s = strings.ToLower(s)
		for _, cut := range []string{".", "_", "-", "/"} {
			s = strings.ReplaceAll(s, cut, "")
		}
		return s
	}
	for _, k := range keys {
		switch {
		case want == corev1.DockerConfigJsonKey && k == corev1.DockerConfigKey:
			return fmt.Sprintf("; %s is the key of the legacy type %s", k, corev1.SecretTypeDockercfg)
		case want == corev1.DockerConfigKey && k == corev1.DockerConfigJsonKey:
			return fmt.Sprintf("; %s is the key of type %s", k, corev1.SecretTypeDockerConfigJson)
		case norm(k) == norm(want) || strings.HasSuffix(k, "config.json") || norm(k) == "dockerconfig":
			return fmt.Sprintf("; did you mean %s for %q?", want, k)
		}
	}
	return ""
}

// content checks the docker config held by the Secret as the API server and the kubelet read it.
func (r *Report) content(key string, value []byte, fromStringData bool) {
	field := fmt.Sprintf("data[%s]", key)
	if fromStringData {
		field = fmt.Sprintf("stringData[%s]", key)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(value, &obj); err != nil || obj == nil {
		switch {
		case fromStringData && looksLikeBase64JSON(value):
			r.errorf(field, "base64 text, not JSON: stringData takes the docker config as plain JSON; move the value to data, or decode it")
		case !fromStringData && looksLikeBase64JSON(value):
			r.errorf(field, "decodes to base64 text, not JSON: the value was base64-encoded twice; encode the JSON once")
		case err != nil:
			r.errorf(field, "not a JSON object (%s): the API server rejects the Secret (%s: Invalid value)", jsonProblem(value, err), field)
		default:
			r.errorf(field, "JSON null, not an object: the API server rejects the Secret")
		}
		return
	}
	if key == corev1.DockerConfigKey {
		r.legacy(field, obj)
	} else {
		r.configJSON(field, obj)
	}
	r.finish()
}

// configJSON checks a config.json document as the kubelet reads it (pkg/credentialprovider
// DockerConfigJSON, through encoding/json: field names matched case-insensitively, unknown
// fields ignored, a wrong JSON type failing the whole Secret).
func (r *Report) configJSON(field string, obj map[string]json.RawMessage) {
	var authsKeys []string
	for k := range obj {
		if strings.EqualFold(k, "auths") {
			authsKeys = append(authsKeys, k)
		}
	}
	sort.Strings(authsKeys)
	for k, raw := range obj {
		if strings.EqualFold(k, "HttpHeaders") {
			var h map[string]string
			if err := json.Unmarshal(raw, &h); err != nil {
				r.errorf(field, "%s is a JSON %s, want an object of strings: the kubelet cannot read this Secret and fails every pull of the pods that list it", k, kindOf(raw))
			}
		}
	}
	for _, k := range []string{"credsStore", "credHelpers"} {
		if hasFold(obj, k) {
			r.warnf(field, "%s is ignored: credential helpers run where docker runs, never for the kubelet; make the Secret with `pullkeys secret create NAME --from-docker-config FILE`, which asks the helpers", k)
		}
	}
	if len(authsKeys) == 0 {
		hint := ""
		if looksLegacy(obj) {
			hint = `; its top-level keys look like registries, the legacy .dockercfg shape: wrap them as {"auths": {...}}, or use type kubernetes.io/dockercfg with key .dockercfg`
		}
		r.errorf(field, "no \"auths\": the kubelet reads only auths, so pulls get no credentials from this Secret%s", hint)
		return
	}
	if len(authsKeys) > 1 {
		r.warnf(field, "auths appears %d times (as %q): the kubelet merges them, later entries winning", len(authsKeys), authsKeys)
	}
	for _, k := range authsKeys {
		raw := obj[k]
		switch kindOf(raw) {
		case "null":
			r.errorf(field+"."+k, "null: no credentials in this Secret")
			continue
		case "object":
		default:
			r.errorf(field+"."+k, "a JSON %s, want an object of registries: the kubelet cannot read this Secret and fails every pull of the pods that list it", kindOf(raw))
			continue
		}
		var entries map[string]json.RawMessage
		_ = json.Unmarshal(raw, &entries)
		if len(entries) == 0 {
			r.errorf(field+"."+k, "empty: no registries, so pulls get no credentials from this Secret")
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(entries)) {
			r.entry(fmt.Sprintf("%s[%q]", k, dockercfg.DisplayKey(key)), key, entries[key])
		}
	}
}

// legacy checks a .dockercfg document: registries at the top level.
func (r *Report) legacy(field string, obj map[string]json.RawMessage) {
	if hasFold(obj, "auths") {
		r.errorf(field, "holds \"auths\", the config.json shape: in a %s Secret the kubelet reads \"auths\" as a registry named auths; use type %s with key %s",
			corev1.SecretTypeDockercfg, corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey)
	}
	if len(obj) == 0 {
		r.errorf(field, "empty: no registries, so pulls get no credentials from this Secret")
		return
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		r.entry(fmt.Sprintf("[%q]", dockercfg.DisplayKey(key)), key, obj[key])
	}
}

// kubeletEntry is the kubelet's dockerConfigEntryWithAuth.
type kubeletEntry struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Email    string `json:"email,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// entry checks one registry entry and records it.
func (r *Report) entry(field, key string, raw json.RawMessage) {
	fail := "the kubelet cannot read this Secret and fails every pull of the pods that list it"
	switch kindOf(raw) {
	case "null":
		r.warnf(field, "null: the kubelet reads it as an entry without credentials")
	case "object":
	default:
		r.errorf(field, "a JSON %s, want an object: %s", kindOf(raw), fail)
		return
	}
	var e kubeletEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		r.errorf(field, "%s: %s", jsonProblem(raw, err), fail)
		return
	}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(raw, &fields)
	user, pass := e.Username, e.Password
	if e.Auth != "" {
		u, p, err := decodeKubeletAuth(e.Auth)
		if err != nil {
			r.errorf(field+".auth", "%s: %s", err, fail)
			return
		}
		if (e.Username != "" || e.Password != "") && (e.Username != u || e.Password != p) {
			r.warnf(field, "username or password differ from auth: the kubelet uses auth")
		}
		user, pass = u, p
		if untrimmed(user) || untrimmed(pass) {
			r.warnf(field+".auth", "the decoded user name or password starts or ends with white space or a line break: was it encoded with echo instead of echo -n or printf?")
		}
	} else if untrimmed(user) || untrimmed(pass) {
		r.warnf(field, "the user name or password starts or ends with white space or a line break")
	}
	if user == "" && pass == "" {
		extra := ""
		for _, k := range []string{"identitytoken", "registrytoken"} {
			if hasFold(fields, k) {
				extra = fmt.Sprintf(" (%s is ignored by the kubelet)", k)
			}
		}
		r.warnf(field, "no credentials%s: the kubelet hands an empty user name and password for this registry, an anonymous pull", extra)
	} else if pass == "" {
		r.warnf(field, "empty password")
	}

	reg := Registry{Key: dockercfg.DisplayKey(key), Username: user, Email: e.Email, rawKey: key, password: pass}
	norm, err := keyring.NormalizeKey(key)
	switch {
	case err != nil:
		r.warnf(field, "the key does not parse as a URL: the kubelet ignores this entry")
	case norm == "" || strings.HasPrefix(norm, "/"):
		r.warnf(field, "the key names no registry host: it matches no image")
	default:
		reg.Pattern = norm
		reg.Matches = describePattern(norm)
		if host, _, _ := strings.Cut(norm, "/"); host == "registry-1.docker.io" {
			r.warnf(field, "Docker Hub images reach the kubelet as docker.io/…, so this key matches none of them: use https://index.docker.io/v1/ (or docker.io)")
		}
	}
	r.entries = append(r.entries, reg)
}

// finish orders the registries as the kubelet tries them and masks the passwords.
func (r *Report) finish() {
	regs := slices.Clone(r.entries)
	sort.SliceStable(regs, func(i, j int) bool { return regs[i].Pattern > regs[j].Pattern })
	byPattern := make(map[string][]string)
	for i := range regs {
		if r.opts.ShowSecrets {
			regs[i].Password = regs[i].password
		} else {
			regs[i].Password = kubelet.Mask(regs[i].password)
		}
		if regs[i].Pattern != "" {
			byPattern[regs[i].Pattern] = append(byPattern[regs[i].Pattern], regs[i].Key)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(byPattern)) {
		if keys := byPattern[p]; len(keys) > 1 {
			r.warnf("", "keys %q are the same registry (%s) for the kubelet: it hands the runtime all their credentials, in no fixed order", keys, p)
		}
	}
	r.Registries = regs
	usable := 0
	for _, reg := range regs {
		if reg.Pattern != "" && (reg.Username != "" || reg.password != "") {
			usable++
		}
	}
	if usable == 0 && r.Errors() == 0 {
		r.errorf("", "no entry with credentials for a registry: pulls get no credentials from this Secret")
	}
}

// imageField prefixes the Field of findings about an image of CheckOptions.Images.
const imageField = "--image "

// images matches each image of the options against the entries as the kubelet does.
func (r *Report) images() {
	var kr keyring.Keyring
	var patterns []string
	for _, reg := range r.Registries {
		if reg.Pattern == "" {
			continue
		}
		if kr.Add(reg.rawKey, keyring.Credential{Source: reg.Key}) == nil {
			patterns = append(patterns, reg.Pattern)
		}
	}
	for _, image := range r.opts.Images {
		res := ImageResult{Image: image, Uses: []string{}}
		norm, err := keyring.NormalizeImage(image)
		if err != nil {
			r.errorf(imageField+image, "%s", brief(err.Error()))
			r.Images = append(r.Images, res)
			continue
		}
		res.Normalized = norm
		direct := false
		for _, c := range kr.Lookup(norm) {
			res.Uses = append(res.Uses, c.Source)
			if ok, _ := keyring.Match(c.Key, norm); ok {
				direct = true
			}
		}
		res.DockerHubFallback = len(res.Uses) > 0 && !direct
		if len(res.Uses) == 0 {
			_, res.Misses = kubelet.ExplainMatch(slices.Compact(slices.Clone(patterns)), norm)
			r.errorf(imageField+image, "no entry matches %s: pulls of it get no credentials from this Secret", norm)
		}
		r.Images = append(r.Images, res)
	}
}

// describePattern says in words which images a normalised key serves.
func describePattern(pattern string) string {
	u, err := keyring.ParseSchemeless(pattern)
	if err != nil {
		return "no image (the key does not parse)"
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Host, ""
	}
	path := strings.TrimPrefix(u.Path, "/")
	if port == "" && path == "" {
		switch host {
		case keyring.DockerHubKey:
			return "Docker Hub images (docker.io/…) that no other entry matches, by the kubelet's fallback"
		case keyring.DockerHub:
			return "Docker Hub images (docker.io/…)"
		}
	}
	var b strings.Builder
	if strings.ContainsAny(host, "*?[") {
		fmt.Fprintf(&b, "images on hosts matching %q (%d dot-separated labels, '*' within one label; docker and other tools do not expand it)", host, strings.Count(host, ".")+1)
	} else {
		fmt.Fprintf(&b, "images on %s", host)
	}
	if port != "" {
		fmt.Fprintf(&b, " port %s only", port)
	} else {
		b.WriteString(" with no port in the image name")
	}
	if path != "" {
		fmt.Fprintf(&b, ", repositories starting with %q (a plain prefix: %q matches too)", path, path+"x")
	} else {
		b.WriteString(", any repository")
	}
	return b.String()
}

// looksLegacy reports whether a document's top-level keys look like registries.
func looksLegacy(obj map[string]json.RawMessage) bool {
	for k := range obj {
		if strings.ContainsAny(k, ".:") || strings.HasPrefix(k, "http") {
			return true
		}
	}
	return false
}

func describeValue(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	}
	return "not an object"
}

func stringField(obj map[string]json.RawMessage, k string) (string, bool) {
	var s string
	if err := json.Unmarshal(obj[k], &s); err != nil {
		return "", false
	}
	return s, true
}

func hasFold(obj map[string]json.RawMessage, key string) bool {
	for k := range obj {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// fieldHint suggests the field meant for an unknown one that differs only in case.
func fieldHint(err error) string {
	var fe sigsjson.FieldError
	if !errors.As(err, &fe) {
		return ""
	}
	path := fe.FieldPath()
	parent, name := "", path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		parent, name = path[:i+1], path[i+1:]
	}
	for _, known := range []string{"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable", "name", "namespace", "labels", "annotations"} {
		if strings.EqualFold(name, known) && name != known {
			return fmt.Sprintf("; field names are case-sensitive: did you mean %s%s?", parent, known)
		}
	}
	return ""
}

// brief is a parser's message with its white space folded, cut at 300 bytes.
func brief(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
