package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// GlobalCacheKey is the kubelet's cache key for an answer with cacheKeyType Global.
const GlobalCacheKey = "global"

// CacheKey returns the key under which the kubelet caches an answer of keyType for image
// (normalised): the image itself, its registry (host with port) or "global". With
// tokenAttributes the kubelet adds the service account's namespace, name, UID and passed
// annotations to the key, and a hash of the token when cacheType is Token.
func CacheKey(keyType providers.CacheKeyType, image string) (string, error) {
	switch keyType {
	case providers.CacheKeyImage:
		return image, nil
	case providers.CacheKeyRegistry:
		return keyring.Registry(image), nil
	case providers.CacheKeyGlobal:
		return GlobalCacheKey, nil
	}
	return "", fmt.Errorf("%w: cacheKeyType %q", providers.ErrInvalidResponse, keyType)
}

// CacheDuration returns how long the kubelet caches resp: its cacheDuration when set, else
// the provider's defaultCacheDuration. Zero means the answer is not cached: the next pull
// execs the plugin again.
func CacheDuration(resp *providers.Response, defaultDuration time.Duration) time.Duration {
	if resp.CacheDuration != nil {
		return resp.CacheDuration.Duration
	}
	return defaultDuration
}

// CheckOptions are the inputs of Check.
type CheckOptions struct {
	// Config is the loaded config, validated again by Check (problems of reading it, which
	// Config does not hold, stay with the caller). When nil, ConfigPath is loaded with
	// LoadConfig and all its problems are reported.
	Config *Config
	// ConfigPath is the config file or directory, used when Config is nil.
	ConfigPath string
	// BinDir is the kubelet's --image-credential-provider-bin-dir.
	BinDir string
	// Images are the images to check, as a person types them (tags and digests allowed).
	Images []string
	// ServiceAccount is the pod's service account for providers with tokenAttributes; nil
	// for a pod without one.
	ServiceAccount *ServiceAccount
	// ShowSecrets puts passwords in the report; otherwise they are masked.
	ShowSecrets bool
	// NoKubeletCache execs every matching plugin for every image. By default answers are
	// cached for the run as the kubelet caches them, so a later image may reuse an earlier
	// answer (a Registry or Global one) without an exec, exactly as on a node.
	NoKubeletCache bool
	// HostsDir is containerd's hosts directory (config_path): with it each image's report
	// says which hosts containerd tries and which credentials each receives, and the mirrors
	// of the providers are checked against it (see MirrorProblems). "" means the providers'
	// own --containerd-hosts-dir for the mirror checks, and no runtime report.
	HostsDir string
	// Timeout kills a plugin; zero means DefaultTimeout, the kubelet's one minute.
	Timeout time.Duration
	// Environ is the parent environment; nil means os.Environ.
	Environ func() []string
	// Now is the clock for exec times and cache expiry; nil means time.Now.
	Now func() time.Time
	// Logger receives progress at debug levels; nil discards.
	Logger *slog.Logger
	// PullPolicy is the container's imagePullPolicy; "" means the API server's default.
	PullPolicy string
	// KubeletConfig is the node's KubeletConfiguration; nil assumes the kubelet's defaults.
	KubeletConfig *KubeletConfig
}

// Image statuses of an ImageReport.
const (
	StatusOK            = "ok"             // at least one credential for the image
	StatusNoCredentials = "no-credentials" // nothing failed, but the runtime pulls anonymously
	StatusError         = "error"          // a plugin failed or its answer is unusable
)

// Report is the result of Check. It holds no secret unless CheckOptions.ShowSecrets was set.
type Report struct {
	Config string   `json:"config"`
	Files  []string `json:"files"`
	BinDir string   `json:"binDir"`
	// Problems are the config's problems and the start-up checks of the binaries: with any
	// error among them the kubelet does not start, and this report shows what each plugin
	// would do if it did.
	Problems Problems      `json:"problems"`
	Images   []ImageReport `json:"images"`
}

// OK reports whether the config has no error and no image has status error.
func (r *Report) OK() bool {
	if len(r.Problems.Errors()) > 0 {
		return false
	}
	for _, img := range r.Images {
		if img.Status == StatusError || (img.Runtime != nil && len(img.Runtime.Problems) > 0) {
			return false
		}
	}
	return true
}

// ImageReport is what the kubelet does for one image.
type ImageReport struct {
	// Image is the image as given.
	Image string `json:"image"`
	// Normalized is the image as the kubelet sends it to plugins (no tag or digest,
	// docker.io/library/ added).
	Normalized string `json:"normalized,omitempty"`
	// Status is StatusOK, StatusNoCredentials or StatusError.
	Status string `json:"status"`
	// Error is set when the image does not parse.
	Error string `json:"error,omitempty"`
	// Providers are all configured providers, in config order.
	Providers []ProviderReport `json:"providers"`
	// Credentials are what the kubelet hands to the container runtime, in the order the
	// runtime tries them.
	Credentials []CredentialReport `json:"credentials"`
	// Runtime is what containerd does with the credentials, with CheckOptions.HostsDir.
	Runtime *RuntimeReport `json:"runtime,omitempty"`
	// Pull is the pull policy and what a pod without credentials of its own does when the
	// image is already on the node.
	Pull *PullReport `json:"pull,omitempty"`
}

// ProviderReport is what one provider does for one image.
type ProviderReport struct {
	Name       string `json:"name"`
	APIVersion string `json:"apiVersion"`
	// Matched says whether one of the provider's matchImages matches the image; the kubelet
	// execs only matching providers.
	Matched bool `json:"matched"`
	// MatchImages says, for each matchImages entry, whether it matches and if not why.
	MatchImages []PatternResult `json:"matchImages"`
	// Skipped says why the kubelet does not exec a matching provider (service account rules).
	Skipped string `json:"skipped,omitempty"`
	// CachedFrom is set when the kubelet would reuse an earlier answer instead of an exec.
	CachedFrom *CacheHit `json:"cachedFrom,omitempty"`
	// Exec is the exec of the plugin, when there was one.
	Exec *ExecResult `json:"exec,omitempty"`
	// Answer is the accepted answer.
	Answer *AnswerReport `json:"answer,omitempty"`
	// Error says why the provider gives no credentials although it should (exec failed,
	// answer rejected, no auth key matches the image).
	Error string `json:"error,omitempty"`
	// Warnings are findings that do not stop the provider (auth keys that do not parse).
	Warnings []string `json:"warnings,omitempty"`
}

// CacheHit names the cached answer the kubelet reuses.
type CacheHit struct {
	// Key is the kubelet's cache key (an image, a registry or "global").
	Key string `json:"key"`
	// Image is the image whose exec produced the answer.
	Image string `json:"image"`
}

// AnswerReport is an accepted answer and what the kubelet makes of it.
type AnswerReport struct {
	CacheKeyType string `json:"cacheKeyType"`
	// CacheDuration is the answer's cacheDuration, "" when absent.
	CacheDuration string `json:"cacheDuration,omitempty"`
	// CacheKey is the kubelet's cache key for the answer.
	CacheKey string `json:"cacheKey"`
	// CacheFor is how long the kubelet caches it ("0s": not cached).
	CacheFor string `json:"cacheFor"`
	// CacheForSource is "response" or "defaultCacheDuration".
	CacheForSource string `json:"cacheForSource"`
	// ServiceAccountKey is set when the kubelet also keys the cache by service account.
	ServiceAccountKey string `json:"serviceAccountKey,omitempty"`
	// Auth are the answer's entries, sorted by key.
	Auth []AuthReport `json:"auth"`
}

// AuthReport is one entry of an answer's auth map.
type AuthReport struct {
	// Key is the key as the plugin sent it; NormalizedKey as the kubelet matches it.
	Key           string `json:"key"`
	NormalizedKey string `json:"normalizedKey,omitempty"`
	// MatchesImage says whether the entry applies to the image.
	MatchesImage bool   `json:"matchesImage"`
	Reason       string `json:"reason,omitempty"`
	Detail       string `json:"detail,omitempty"`
	Username     string `json:"username"`
	// Password is masked ("********(32 chars)") unless secrets are shown.
	Password       string `json:"password"`
	PasswordLength int    `json:"passwordLength"`
}

// CredentialReport is one credential the kubelet hands to the runtime.
type CredentialReport struct {
	// Key is the normalised auth key the credential is stored under.
	Key      string `json:"key"`
	Username string `json:"username"`
	// Password is masked unless secrets are shown.
	Password       string `json:"password"`
	PasswordLength int    `json:"passwordLength"`
	// Provider is the provider that answered.
	Provider string `json:"provider"`
}

// Mask hides a secret, showing only its length: "********(32 chars)", or "(empty)".
func Mask(secret string) string {
	if secret == "" {
		return "(empty)"
	}
	if n := len([]rune(secret)); n != 1 {
		return fmt.Sprintf("********(%d chars)", n)
	}
	return "********(1 char)"
}

// ErrNoImages is returned by Check when there is nothing to check.
var ErrNoImages = errors.New("no image to check")

// Check does for each image what the kubelet does before a pull: normalise the image, find the
// providers whose matchImages match it (and say why the others do not), exec each of them as
// the kubelet does (or reuse an answer the kubelet would have cached), validate the answers,
// and merge them into the credentials the kubelet hands to the runtime, in its order.
//
// The error is for unusable options only; every finding is in the Report (see Report.OK).
func Check(ctx context.Context, opts CheckOptions) (*Report, error) {
	if len(opts.Images) == 0 {
		return nil, ErrNoImages
	}
	if err := ValidPullPolicy(opts.PullPolicy); err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	if opts.BinDir == "" {
		return nil, errors.New("check: no bin dir")
	}
	log := providers.OrDiscard(opts.Logger)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	cfg := opts.Config
	var problems Problems
	if cfg == nil {
		cfg, problems = LoadConfig(opts.ConfigPath, opts.BinDir)
	} else {
		problems = append(Validate(cfg), CheckBinaries(cfg, opts.BinDir)...)
	}
	problems = append(problems, MirrorProblems(cfg, opts.HostsDir)...)
	r := &Report{Config: cfg.Path, Files: cfg.Files, BinDir: opts.BinDir, Problems: problems, Images: []ImageReport{}}
	if r.Files == nil {
		r.Files = []string{}
	}
	if r.Problems == nil {
		r.Problems = Problems{}
	}
	c := &checker{opts: opts, now: now, log: log, cache: map[string]map[string]cachedAnswer{}}
	for _, image := range opts.Images {
		if ctx.Err() != nil {
			return r, nil
		}
		r.Images = append(r.Images, c.image(ctx, cfg, image))
	}
	return r, nil
}

type checker struct {
	opts  CheckOptions
	now   func() time.Time
	log   *slog.Logger
	cache map[string]map[string]cachedAnswer // provider name → cache key → answer
}

type cachedAnswer struct {
	resp    *providers.Response
	image   string
	expires time.Time
}

func (c *checker) image(ctx context.Context, cfg *Config, image string) ImageReport {
	ir := ImageReport{Image: image, Providers: []ProviderReport{}, Credentials: []CredentialReport{}}
	norm, err := keyring.NormalizeImage(image)
	if err != nil {
		ir.Status, ir.Error = StatusError, err.Error()
		return ir
	}
	ir.Normalized = norm
	pull := NewPullReport(image, c.opts.PullPolicy, c.opts.KubeletConfig)
	ir.Pull = &pull
	var kr keyring.Keyring
	failed := false
	for _, p := range cfg.Providers {
		pr, answer := c.provider(ctx, p, norm)
		if pr.Error != "" {
			failed = true
		}
		if answer != nil {
			for _, key := range sortedKeys(answer.Auth) {
				a := answer.Auth[key]
				// A key that does not parse is skipped by the kubelet; the provider report says so.
				_ = kr.Add(key, keyring.Credential{Username: a.Username, Password: a.Password, Source: p.Name})
			}
		}
		ir.Providers = append(ir.Providers, pr)
	}
	for _, cred := range kr.Lookup(norm) {
		ir.Credentials = append(ir.Credentials, CredentialReport{
			Key: cred.Key, Username: cred.Username, Provider: cred.Source,
			Password: c.secret(cred.Password), PasswordLength: len([]rune(cred.Password)),
		})
	}
	if c.opts.HostsDir != "" {
		ir.Runtime = runtimeReport(cfg, c.opts.HostsDir, norm, ir.Credentials)
	}
	switch {
	case failed:
		ir.Status = StatusError
	case len(ir.Credentials) > 0:
		ir.Status = StatusOK
	default:
		ir.Status = StatusNoCredentials
	}
	return ir
}

// provider runs one provider for one normalised image and returns its report and the answer
// the kubelet uses (nil when none).
func (c *checker) provider(ctx context.Context, p Provider, image string) (ProviderReport, *providers.Response) {
	pr := ProviderReport{Name: p.Name, APIVersion: p.APIVersion}
	pr.Matched, pr.MatchImages = ExplainMatch(p.MatchImages, image)
	if !pr.Matched {
		return pr, nil
	}
	if !runnableName(p.Name) {
		// The kubelet refuses to start with such a name; exec'ing <bin-dir>/<name> could run a
		// binary outside the bin dir.
		pr.Error = fmt.Sprintf("not run: the name %q is invalid (see the config problems)", p.Name)
		return pr, nil
	}
	req, skip := BuildRequest(p, image, c.opts.ServiceAccount)
	if skip != "" {
		pr.Skipped = skip
		return pr, nil
	}

	var resp *providers.Response
	if hit, cached := c.lookup(p.Name, image); cached != nil {
		pr.CachedFrom = hit
		resp = cached
	} else {
		c.log.Debug("exec plugin", "provider", p.Name, "image", image)
		res := Exec(ctx, c.opts.BinDir, p, req, ExecOptions{Timeout: c.opts.Timeout, Environ: c.opts.Environ, Now: c.now})
		pr.Exec = res
		if res.Err != nil {
			pr.Error = res.Err.Error()
			return pr, nil
		}
		resp = res.Response
		if err := rejectEchoedToken(p, req, resp); err != nil {
			pr.Error = err.Error()
			return pr, nil
		}
	}

	ans := c.answer(p, image, req, resp)
	pr.Answer = ans
	if pr.CachedFrom == nil {
		c.store(p.Name, image, resp, ans)
	}
	var usable keyring.Keyring
	for _, a := range ans.Auth {
		if a.Reason == "invalid" && a.NormalizedKey == "" { // NormalizeKey refused it
			pr.Warnings = append(pr.Warnings, fmt.Sprintf("auth key %q does not parse: the kubelet ignores it", a.Key))
			continue
		}
		_ = usable.Add(a.Key, keyring.Credential{})
	}
	if len(ans.Auth) > 0 && len(usable.Lookup(image)) == 0 {
		pr.Error = fmt.Sprintf("the answer holds %d credential(s) but no auth key matches %s: the kubelet uses none of them for this image", len(ans.Auth), image)
		if pr.CachedFrom != nil {
			pr.Error += fmt.Sprintf(" (the answer was cached by cacheKeyType %s for %s and is reused without an exec)", resp.CacheKeyType, pr.CachedFrom.Image)
		}
	}
	return pr, resp
}

// runnableName reports whether <bin-dir>/<name> stays in the bin dir.
func runnableName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// rejectEchoedToken is the kubelet's check that a plugin does not hand the service account
// token back as a password unless the cache is keyed by token.
func rejectEchoedToken(p Provider, req *providers.Request, resp *providers.Response) error {
	if req.ServiceAccountToken == "" || p.TokenAttributes == nil || string(p.TokenAttributes.CacheType) == CacheTypeToken {
		return nil
	}
	for _, a := range resp.Auth {
		if a.Password == req.ServiceAccountToken {
			return fmt.Errorf("%w: a password is the service account token itself, which the kubelet refuses unless tokenAttributes.cacheType is %s", ErrResponse, CacheTypeToken)
		}
	}
	return nil
}

func (c *checker) answer(p Provider, image string, req *providers.Request, resp *providers.Response) *AnswerReport {
	ans := &AnswerReport{CacheKeyType: string(resp.CacheKeyType), Auth: []AuthReport{}}
	if resp.CacheDuration != nil {
		ans.CacheDuration = resp.CacheDuration.Duration.String()
		ans.CacheForSource = "response"
	} else {
		ans.CacheForSource = "defaultCacheDuration"
	}
	var def time.Duration
	if p.DefaultCacheDuration != nil {
		def = p.DefaultCacheDuration.Duration
	}
	ans.CacheFor = CacheDuration(resp, def).String()
	ans.CacheKey, _ = CacheKey(resp.CacheKeyType, image)
	if req.ServiceAccountToken != "" {
		ans.ServiceAccountKey = "namespace, name, UID and passed annotations of the service account"
		if string(p.TokenAttributes.CacheType) == CacheTypeToken {
			ans.ServiceAccountKey += ", and a hash of the token (cacheType Token)"
		}
	}
	for _, key := range sortedKeys(resp.Auth) {
		a := resp.Auth[key]
		ar := AuthReport{Key: key, Username: a.Username, Password: c.secret(a.Password), PasswordLength: len([]rune(a.Password))}
		norm, err := keyring.NormalizeKey(key)
		if err != nil {
			ar.Reason, ar.Detail = "invalid", err.Error()
			ans.Auth = append(ans.Auth, ar)
			continue
		}
		ar.NormalizedKey = norm
		var one keyring.Keyring
		_ = one.Add(key, keyring.Credential{})
		if len(one.Lookup(image)) > 0 {
			ar.MatchesImage = true
		} else {
			r := explainPattern(norm, image)
			ar.Reason, ar.Detail = r.Reason, r.Detail
		}
		ans.Auth = append(ans.Auth, ar)
	}
	return ans
}

func (c *checker) secret(s string) string {
	if c.opts.ShowSecrets {
		return s
	}
	return Mask(s)
}

// lookup finds a cached answer as the kubelet does before an exec: by image, then registry,
// then global. Expired entries are dropped.
func (c *checker) lookup(provider, image string) (*CacheHit, *providers.Response) {
	if c.opts.NoKubeletCache {
		return nil, nil
	}
	entries := c.cache[provider]
	for _, key := range []string{image, keyring.Registry(image), GlobalCacheKey} {
		e, ok := entries[key]
		if !ok {
			continue
		}
		if c.now().After(e.expires) {
			delete(entries, key)
			continue
		}
		return &CacheHit{Key: key, Image: e.image}, e.resp
	}
	return nil, nil
}

func (c *checker) store(provider, image string, resp *providers.Response, ans *AnswerReport) {
	d, err := time.ParseDuration(ans.CacheFor)
	if c.opts.NoKubeletCache || err != nil || d <= 0 {
		return
	}
	if c.cache[provider] == nil {
		c.cache[provider] = map[string]cachedAnswer{}
	}
	c.cache[provider][ans.CacheKey] = cachedAnswer{resp: resp, image: image, expires: c.now().Add(d)}
}

func sortedKeys(m map[string]providers.AuthConfig) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
