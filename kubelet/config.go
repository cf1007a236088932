package kubelet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	k8sjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	configv1 "k8s.io/kubelet/config/v1"
	configv1alpha1 "k8s.io/kubelet/config/v1alpha1"
	configv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/pullkeys/pullkeys/providers"
)

// The group and kind of the kubelet's --image-credential-provider-config document.
const (
	ConfigGroup = configv1.GroupName // kubelet.config.k8s.io
	ConfigKind  = "CredentialProviderConfig"
)

// ConfigAPIVersions lists the apiVersions of CredentialProviderConfig the kubelet reads,
// newest first.
func ConfigAPIVersions() []string {
	return []string{
		configv1.SchemeGroupVersion.String(),
		configv1beta1.SchemeGroupVersion.String(),
		configv1alpha1.SchemeGroupVersion.String(),
	}
}

// Config is a CredentialProviderConfig as the kubelet reads it from a file or a directory:
// the providers of every file, merged in order.
type Config struct {
	// Path is the file or directory the config was read from.
	Path string `json:"path"`
	// Files are the files read, in the order the kubelet reads them.
	Files []string `json:"files"`
	// Providers are the providers of all files, in order.
	Providers []Provider `json:"providers"`
}

// Provider is one entry of a config's providers, in the v1 shape (entries of v1beta1 and
// v1alpha1 files have no tokenAttributes), with the place it came from.
type Provider struct {
	configv1.CredentialProvider
	// File is the file the entry came from.
	File string `json:"file"`
	// Index is the entry's index in that file's providers.
	Index int `json:"index"`
	// ConfigAPIVersion is the apiVersion of that file (kubelet.config.k8s.io/v1, …).
	ConfigAPIVersion string `json:"configAPIVersion"`
}

// ConfigExtensions are the file name extensions the kubelet reads from a config directory.
// They are compared case-sensitively, as the kubelet does.
var ConfigExtensions = []string{".json", ".yaml", ".yml"}

// configCodecs decodes the three versions of CredentialProviderConfig, strictly, as the
// kubelet's codec does (unknown and duplicate fields are errors, field names are
// case-sensitive). Only the config kind is registered.
var configCodecs = sync.OnceValue(func() serializer.CodecFactory {
	scheme := runtime.NewScheme()
	scheme.AddKnownTypes(configv1.SchemeGroupVersion, &configv1.CredentialProviderConfig{})
	scheme.AddKnownTypes(configv1beta1.SchemeGroupVersion, &configv1beta1.CredentialProviderConfig{})
	scheme.AddKnownTypes(configv1alpha1.SchemeGroupVersion, &configv1alpha1.CredentialProviderConfig{})
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict)
})

// ReadConfig reads a CredentialProviderConfig file, or a directory of them, the way the kubelet
// does: a directory contributes its regular *.json, *.yaml and *.yml files in lexical order,
// and their providers are merged in that order. Each file is decoded strictly.
//
// Unlike the kubelet, which stops at the first bad file, ReadConfig reads every file and
// returns every problem found; the Config holds whatever could be decoded. Duplicate provider
// names and the other rules of the kubelet are checked by [Validate], not here.
func ReadConfig(path string) (*Config, Problems) {
	cfg := &Config{Path: path}
	if path == "" {
		return cfg, Problems{errorf("", "", "", "credential provider config path is empty")}
	}
	info, err := os.Stat(path)
	if err != nil {
		return cfg, Problems{errorf(path, "", "", "unable to access path: %s", pathError(err))}
	}
	if info.IsDir() {
		files, err := configFiles(path)
		if err != nil {
			return cfg, Problems{errorf(path, "", "", "%s", err)}
		}
		cfg.Files = files
	} else {
		cfg.Files = []string{path}
	}
	var problems Problems
	for _, file := range cfg.Files {
		data, err := os.ReadFile(file)
		if err != nil {
			problems = append(problems, errorf(file, "", "", "unable to read file: %s", pathError(err)))
			continue
		}
		provs, apiVersion, probs := DecodeConfig(data)
		for i := range probs {
			probs[i].File = file
		}
		problems = append(problems, probs...)
		for i, p := range provs {
			cfg.Providers = append(cfg.Providers, Provider{CredentialProvider: p, File: file, Index: i, ConfigAPIVersion: apiVersion})
		}
	}
	return cfg, problems
}

// ErrNoConfigFiles is returned by ConfigFiles for a directory without config files.
var ErrNoConfigFiles = errors.New("no configuration files found in directory")

// ConfigFiles lists the files the kubelet reads from a config directory: entries that are not
// directories and whose names end in .json, .yaml or .yml, in lexical order. A symbolic link is
// listed whatever it points to, as the kubelet does.
func ConfigFiles(dir string) ([]string, error) {
	files, err := configFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return files, nil
}

// configFiles is ConfigFiles with errors that do not repeat the directory's name.
func configFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("unable to read directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && isConfigFile(e.Name()) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("%w (only *.json, *.yaml and *.yml files are read)", ErrNoConfigFiles)
	}
	return files, nil
}

func isConfigFile(name string) bool {
	ext := filepath.Ext(name)
	for _, want := range ConfigExtensions {
		if ext == want {
			return true
		}
	}
	return false
}

// DecodeConfig decodes one CredentialProviderConfig document (YAML or JSON) strictly, as the
// kubelet does, and returns its providers in the v1 shape with the document's apiVersion.
// Problems carry field paths but no file; they never quote the document beyond the offending
// field name, since env values may be secret.
func DecodeConfig(data []byte) ([]configv1.CredentialProvider, string, Problems) {
	js := data
	if !looksLikeJSON(data) {
		var err error
		if js, err = yaml.YAMLToJSON(data); err != nil {
			return nil, "", Problems{errorf("", "", "", "cannot parse YAML: %s", providers.OneLine(err.Error()))}
		}
	}
	gvk, err := k8sjson.DefaultMetaFactory.Interpret(js)
	if err != nil {
		return nil, "", Problems{errorf("", "", "", "cannot parse JSON: %s", jsonProblem(err))}
	}
	apiVersion := gvk.GroupVersion().String()
	if p, ok := checkTypeMeta(gvk); !ok {
		return nil, apiVersion, p
	}
	obj, _, err := configCodecs().UniversalDeserializer().Decode(data, nil, nil)
	var problems Problems
	if strict, ok := runtime.AsStrictDecodingError(err); ok {
		// The kubelet refuses the whole file: report every field, then carry on with what was
		// decoded so that the remaining checks can run.
		for _, e := range strict.Errors() {
			problems = append(problems, strictProblems(e)...)
		}
		err = nil
	}
	if err != nil {
		return nil, apiVersion, append(problems, errorf("", "", "", "cannot decode %s: %s", ConfigKind, jsonProblem(err)))
	}
	provs, err := toV1(obj)
	if err != nil {
		return nil, apiVersion, append(problems, errorf("", "", "", "%s", err))
	}
	return provs, apiVersion, problems
}

func looksLikeJSON(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{'
}

// checkTypeMeta checks the group, version and kind before the document is decoded, so that
// the error names the field instead of quoting the document.
func checkTypeMeta(gvk *schema.GroupVersionKind) (Problems, bool) {
	var problems Problems
	switch {
	case gvk.Group == "" && gvk.Version == "":
		problems = append(problems, errorf("", "apiVersion", "Required value", "want one of %v", ConfigAPIVersions()))
	case gvk.Group != ConfigGroup:
		problems = append(problems, errorf("", "apiVersion", "Unsupported value", "%q: group must be %s (want one of %v)", gvk.GroupVersion().String(), ConfigGroup, ConfigAPIVersions()))
	case !slices.Contains(ConfigAPIVersions(), gvk.GroupVersion().String()):
		problems = append(problems, errorf("", "apiVersion", "Unsupported value", "%q: want one of %v", gvk.GroupVersion().String(), ConfigAPIVersions()))
	}
	switch gvk.Kind {
	case ConfigKind:
	case "":
		problems = append(problems, errorf("", "kind", "Required value", "want %s", ConfigKind))
	default:
		problems = append(problems, errorf("", "kind", "Unsupported value", "%q: want %s", gvk.Kind, ConfigKind))
	}
	return problems, len(problems) == 0
}

// toV1 converts any version of the config to the v1 shape: the older versions have the same
// fields minus tokenAttributes.
func toV1(obj runtime.Object) ([]configv1.CredentialProvider, error) {
	var out []configv1.CredentialProvider
	switch c := obj.(type) {
	case *configv1.CredentialProviderConfig:
		return c.Providers, nil
	case *configv1beta1.CredentialProviderConfig:
		for _, p := range c.Providers {
			v := configv1.CredentialProvider{Name: p.Name, MatchImages: p.MatchImages, DefaultCacheDuration: p.DefaultCacheDuration, APIVersion: p.APIVersion, Args: p.Args}
			for _, e := range p.Env {
				v.Env = append(v.Env, configv1.ExecEnvVar{Name: e.Name, Value: e.Value})
			}
			out = append(out, v)
		}
	case *configv1alpha1.CredentialProviderConfig:
		for _, p := range c.Providers {
			v := configv1.CredentialProvider{Name: p.Name, MatchImages: p.MatchImages, DefaultCacheDuration: p.DefaultCacheDuration, APIVersion: p.APIVersion, Args: p.Args}
			for _, e := range p.Env {
				v.Env = append(v.Env, configv1.ExecEnvVar{Name: e.Name, Value: e.Value})
			}
			out = append(out, v)
		}
	default:
		return nil, fmt.Errorf("unexpected type %T", obj)
	}
	return out, nil
}

// strictFieldError matches the strict JSON decoder's messages, which name a field but hold no
// value; yamlDuplicate matches the YAML converter's message for a repeated key.
var (
	strictFieldError = regexp.MustCompile(`^(unknown|duplicate) field "(.*)"$`)
	yamlDuplicate    = regexp.MustCompile(`^\s*line (\d+): key "(.*)" already set in map$`)
)

const (
	unknownFieldDetail   = "the kubelet decodes its config strictly and refuses unknown fields (misspelt, wrong case, or from a newer apiVersion)"
	duplicateFieldDetail = "the kubelet decodes its config strictly and refuses duplicate fields"
)

func strictProblems(err error) Problems {
	msg := strings.TrimSpace(err.Error())
	if m := strictFieldError.FindStringSubmatch(msg); m != nil {
		if m[1] == "duplicate" {
			return Problems{errorf("", m[2], "Duplicate field", "%s", duplicateFieldDetail)}
		}
		return Problems{errorf("", m[2], "Unknown field", "%s", unknownFieldDetail)}
	}
	var problems Problems
	var other []string
	for _, line := range strings.Split(msg, "\n") {
		if m := yamlDuplicate.FindStringSubmatch(line); m != nil {
			problems = append(problems, errorf("", m[2], "Duplicate field", "line %s: %s", m[1], duplicateFieldDetail))
		} else if line = strings.TrimSpace(line); line != "" && line != "yaml: unmarshal errors:" {
			other = append(other, line)
		}
	}
	if len(other) > 0 {
		problems = append(problems, errorf("", "", "", "strict decoding: %s", truncate(strings.Join(other, "; "), 300)))
	}
	return problems
}

// jsonProblem reduces a decoder error to one bounded line. Decoder errors name a position or a
// field; the apimachinery ones that quote the document are avoided by checkTypeMeta.
func jsonProblem(err error) string {
	return truncate(providers.OneLine(err.Error()), 300)
}

func pathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// MarshalJSON writes the entry as in a v1 config, with where it came from, and with env values
// masked: they are often secrets.
func (p Provider) MarshalJSON() ([]byte, error) {
	type entry configv1.CredentialProvider
	e := entry(*p.CredentialProvider.DeepCopy())
	for i := range e.Env {
		e.Env[i].Value = Mask(e.Env[i].Value)
	}
	return json.Marshal(struct {
		entry
		File             string `json:"file"`
		Index            int    `json:"index"`
		ConfigAPIVersion string `json:"configAPIVersion"`
	}{e, p.File, p.Index, p.ConfigAPIVersion})
}
