package kubelet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation/field"
	configv1 "k8s.io/kubelet/config/v1"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// The cacheTypes of tokenAttributes.
const (
	CacheTypeToken          = string(configv1.TokenServiceAccountTokenCacheType)
	CacheTypeServiceAccount = string(configv1.ServiceAccountServiceAccountTokenCacheType)
)

// LoadConfig reads the config at path (file or directory, see ReadConfig) and validates it
// (see Validate). With a non-empty binDir it also checks the binaries, as the kubelet does at
// start-up (see CheckBinaries). The config is returned even when it has problems, so that a
// caller can still show what it holds.
func LoadConfig(path, binDir string) (*Config, Problems) {
	cfg, problems := ReadConfig(path)
	if len(problems.Errors()) > 0 && len(cfg.Providers) == 0 {
		// Nothing decoded: "providers: Required value" would only repeat the read errors.
		return cfg, problems
	}
	problems = append(problems, Validate(cfg)...)
	if binDir != "" {
		problems = append(problems, CheckBinaries(cfg, binDir)...)
	}
	return cfg, problems
}

// Validate checks a config with the kubelet's rules (validateCredentialProviderConfig in
// k8s.io/kubernetes pkg/credentialprovider/plugin) and returns every problem, each with its
// field path. Field paths hold the index of the entry in its own file
// (providers[1].matchImages[0]) where the kubelet prints providers.matchImages; the wording is
// otherwise the kubelet's. The service account token feature gate is taken as enabled (the
// default since Kubernetes 1.34).
//
// Problems of severity warning are not the kubelet's: the kubelet accepts these entries, but
// they cannot work as written (a matchImages entry that can never match, for example).
func Validate(cfg *Config) Problems {
	var problems Problems
	if len(cfg.Providers) == 0 {
		problems = append(problems, fromField(cfg.Path, field.Required(field.NewPath("providers"), "at least 1 item in plugins is required"), SeverityError))
	}
	seen := map[string]Provider{}
	for _, p := range cfg.Providers {
		fp := field.NewPath("providers").Index(p.Index)
		add := func(e *field.Error) { problems = append(problems, fromField(p.File, e, SeverityError)) }
		warn := func(e *field.Error) { problems = append(problems, fromField(p.File, e, SeverityWarning)) }

		name := fp.Child("name")
		if p.Name == "" {
			// Not a rule of the kubelet's validation, but the kubelet then fails to start: the
			// binary path is the bin dir itself.
			add(field.Required(name, "the kubelet execs <bin-dir>/<name>"))
		}
		if strings.Contains(p.Name, "/") {
			add(field.Invalid(name, p.Name, "provider name cannot contain '/'"))
		}
		if strings.Contains(p.Name, " ") {
			add(field.Invalid(name, p.Name, "provider name cannot contain spaces"))
		}
		if p.Name == "." {
			add(field.Invalid(name, p.Name, "provider name cannot be '.'"))
		}
		if p.Name == ".." {
			add(field.Invalid(name, p.Name, "provider name cannot be '..'"))
		}
		if first, dup := seen[p.Name]; dup {
			e := field.Duplicate(name, p.Name)
			e.Detail = fmt.Sprintf("already the name of providers[%d] in %s", first.Index, first.File)
			add(e)
		} else {
			seen[p.Name] = p
		}

		if p.APIVersion == "" {
			add(field.Required(fp.Child("apiVersion"), ""))
		} else if !slices.Contains(providers.APIVersions(), p.APIVersion) {
			valid := append([]string(nil), providers.APIVersions()...)
			sort.Strings(valid)
			add(field.NotSupported(fp.Child("apiVersion"), p.APIVersion, valid))
		}

		if len(p.MatchImages) == 0 {
			add(field.Required(fp.Child("matchImages"), "at least 1 item in matchImages is required"))
		}
		for j, pattern := range p.MatchImages {
			mp := fp.Child("matchImages").Index(j)
			if _, err := keyring.ParseSchemeless(pattern); err != nil {
				add(field.Invalid(mp, pattern, fmt.Sprintf("match image is invalid: %s", err.Error())))
				continue
			}
			if why := PatternNeverMatches(pattern); why != "" {
				warn(field.Invalid(mp, pattern, why))
			}
		}

		if p.DefaultCacheDuration == nil {
			add(field.Required(fp.Child("defaultCacheDuration"), ""))
		} else if p.DefaultCacheDuration.Duration < 0 {
			add(field.Invalid(fp.Child("defaultCacheDuration"), p.DefaultCacheDuration.Duration.String(), "must be greater than or equal to 0"))
		}

		for j, e := range p.Env {
			if e.Name == "" {
				warn(field.Required(fp.Child("env").Index(j).Child("name"), "the kubelet passes \"=value\" to the plugin"))
			}
		}

		if p.TokenAttributes != nil {
			problems = append(problems, validateTokenAttributes(p, fp.Child("tokenAttributes"))...)
		}
	}
	return problems
}

func validateTokenAttributes(p Provider, fp *field.Path) Problems {
	var problems Problems
	add := func(e *field.Error) { problems = append(problems, fromField(p.File, e, SeverityError)) }
	ta := p.TokenAttributes
	if ta.ServiceAccountTokenAudience == "" {
		add(field.Required(fp.Child("serviceAccountTokenAudience"), ""))
	}
	if ta.RequireServiceAccount == nil {
		add(field.Required(fp.Child("requireServiceAccount"), ""))
	}
	if p.APIVersion != providers.APIVersionV1 {
		add(field.Forbidden(fp, fmt.Sprintf("tokenAttributes is only supported for %s API version", providers.APIVersionV1)))
	}
	if ta.RequireServiceAccount != nil && !*ta.RequireServiceAccount && len(ta.RequiredServiceAccountAnnotationKeys) > 0 {
		add(field.Forbidden(fp.Child("requiredServiceAccountAnnotationKeys"), "requireServiceAccount cannot be false when requiredServiceAccountAnnotationKeys is set"))
	}
	for _, e := range validateAnnotationKeys(fp.Child("requiredServiceAccountAnnotationKeys"), ta.RequiredServiceAccountAnnotationKeys) {
		add(e)
	}
	for _, e := range validateAnnotationKeys(fp.Child("optionalServiceAccountAnnotationKeys"), ta.OptionalServiceAccountAnnotationKeys) {
		add(e)
	}
	var both []string
	for _, k := range ta.RequiredServiceAccountAnnotationKeys {
		if slices.Contains(ta.OptionalServiceAccountAnnotationKeys, k) && !slices.Contains(both, k) {
			both = append(both, k)
		}
	}
	if len(both) > 0 {
		sort.Strings(both)
		add(field.Invalid(fp, both, "annotation keys cannot be both required and optional"))
	}
	valid := []string{CacheTypeServiceAccount, CacheTypeToken}
	switch ct := string(ta.CacheType); {
	case ct == "":
		add(field.Required(fp.Child("cacheType"), fmt.Sprintf("cacheType is required to be set when tokenAttributes is specified. Supported values are: %s", strings.Join(valid, ", "))))
	case slices.Contains(valid, ct):
	default:
		add(field.NotSupported(fp.Child("cacheType"), ct, valid))
	}
	return problems
}

// validateAnnotationKeys applies the kubelet's rule to annotation keys: qualified names,
// case-insensitively, and no duplicates.
func validateAnnotationKeys(fp *field.Path, keys []string) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for j, k := range keys {
		for _, msg := range content.IsQualifiedName(strings.ToLower(k)) {
			errs = append(errs, field.Invalid(fp.Index(j), k, msg))
		}
		if seen[k] {
			errs = append(errs, field.Duplicate(fp.Index(j), k))
		}
		seen[k] = true
	}
	return errs
}

// PatternNeverMatches says why a matchImages entry that parses can still never match an image
// the kubelet sends, or returns "" when it can. The kubelet accepts such entries silently.
func PatternNeverMatches(pattern string) string {
	switch {
	case pattern == "":
		return "an empty entry matches no image"
	case strings.HasPrefix(pattern, "https://") || strings.HasPrefix(pattern, "http://"):
		return "a scheme is not removed from matchImages: the host becomes \"https:\" or \"http:\" and no image matches; remove the scheme"
	case strings.ContainsAny(pattern, "?#"):
		return "'?' and '#' start a URL query or fragment: only the text before them is the pattern"
	}
	u, err := keyring.ParseSchemeless(pattern)
	if err != nil {
		return ""
	}
	if strings.ContainsAny(u.Path, ":@") {
		return "the kubelet matches repositories without tag or digest: a pattern with ':' or '@' in its path matches nothing"
	}
	if u.User != nil {
		return "user information in a pattern is not matched: no image has any"
	}
	// A malformed glob (an unclosed '[') makes every match fail.
	host := u.Hostname()
	for _, label := range strings.Split(host, ".") {
		if _, err := filepath.Match(label, ""); err != nil {
			return fmt.Sprintf("host label %q is not a valid glob: no image matches", label)
		}
	}
	return ""
}

// Sentinel errors of FindBinary.
var (
	ErrBinDirNotFound = errors.New("plugin binary directory does not exist")
	ErrBinaryNotFound = errors.New("plugin binary not found")
	ErrNotExecutable  = errors.New("plugin binary is not executable")
)

// FindBinary finds a provider's binary as the kubelet does at start-up:
// exec.LookPath(filepath.Join(binDir, name)). It returns the path the kubelet execs.
func FindBinary(binDir, name string) (string, error) {
	path := filepath.Join(binDir, name)
	found, err := exec.LookPath(path)
	switch {
	case err == nil:
		return found, nil
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, exec.ErrNotFound):
		return path, fmt.Errorf("%w: %s", ErrBinaryNotFound, path)
	case errors.Is(err, fs.ErrPermission):
		return path, fmt.Errorf("%w: %s (missing execute permission)", ErrNotExecutable, path)
	default:
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err
		}
		return path, fmt.Errorf("%w: %s: %v", ErrNotExecutable, path, err)
	}
}

// CheckBinaries checks what the kubelet checks at start-up, before any pull: the bin dir
// exists and every provider's binary is found in it. Any failure keeps the kubelet from
// starting.
func CheckBinaries(cfg *Config, binDir string) Problems {
	if _, err := os.Stat(binDir); err != nil {
		detail := fmt.Sprintf("%s: %s", ErrBinDirNotFound, pathError(err))
		if !errors.Is(err, fs.ErrNotExist) {
			detail = fmt.Sprintf("cannot inspect plugin binary directory: %s", pathError(err))
		}
		return Problems{errorf(binDir, "", "", "%s: the kubelet refuses to start", detail)}
	}
	var problems Problems
	for _, p := range cfg.Providers {
		if !runnableName(p.Name) {
			continue // already an error of Validate
		}
		if _, err := FindBinary(binDir, p.Name); err != nil {
			typ := "Not found"
			if errors.Is(err, ErrNotExecutable) {
				typ = "Forbidden"
			}
			problems = append(problems, errorf(p.File, field.NewPath("providers").Index(p.Index).Child("name").String(), typ,
				"%s: the kubelet refuses to start", err))
		}
	}
	return problems
}
