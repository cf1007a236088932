package kubelet

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/kubernetes/pkg/util/parsers"

	pkkubelet "github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// repo is the image as the kubelet sends it to plugins.
func repo(t *testing.T, image string) string {
	t.Helper()
	r, _, _, err := parsers.ParseImageName(image)
	if err != nil {
		t.Fatalf("ParseImageName(%q): %v", image, err)
	}
	return r
}

// TestAPIVersions drives the fake plugin (providers.Execute) through the kubelet's
// registration and keyring in each protocol version: the kubelet's request reaches the
// provider decoded as sent, byte for byte what pullkeys would send (kubelet.EncodeRequest),
// the config's args reach the shared flag parser, and the kubelet's strict decoder accepts
// the answer.
func TestAPIVersions(t *testing.T) {
	for _, v := range providers.APIVersions() {
		t.Run(v, func(t *testing.T) {
			s := newScenario(t)
			p := s.fake()
			p.APIVersion = v
			p.Args = []string{"--user=alice", "-v=4"}
			s.register(nil, p)

			image := s.image("reg", "team/app:1.0")
			got := lookup(t, image, pod{})
			want := []cred{{"alice", "pass-1"}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("kubelet Lookup(%q) mismatch (-want +got):\n%s", image, diff)
			}

			execs := s.execs()
			if len(execs) != 1 {
				t.Fatalf("the kubelet exec'd the plugin %d times, want 1", len(execs))
			}
			rec := execs[0]
			if diff := cmp.Diff(p.Args, rec.Args); diff != "" {
				t.Errorf("plugin argv mismatch (-config +got):\n%s", diff)
			}
			wantReq, err := pkkubelet.EncodeRequest(&providers.Request{Image: repo(t, image)}, v)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Stdin != string(wantReq) {
				t.Errorf("the kubelet wrote the request\n%s\npullkeys EncodeRequest writes\n%s", rec.Stdin, wantReq)
			}
			if rec.Decoded == nil || rec.Decoded.Image != s.image("reg", "team/app") {
				t.Errorf("providers decoded request %+v, want image %q", rec.Decoded, s.image("reg", "team/app"))
			}

			rep := s.check([]string{image}, nil)
			if diff := cmp.Diff(got, checkCreds(rep.Images[0])); diff != "" {
				t.Errorf("pullkeys check disagrees with the kubelet for %s (-kubelet +check):\n%s", image, diff)
			}
		})
	}
}

// step is one image pull of a scenario, and what the kubelet must do for it.
type step struct {
	host, rest string // the image: <host>.<domain>/<rest>
	exec       bool   // the kubelet execs the plugin (no cached answer applies)
	creds      []cred
}

// runSteps pulls each step's image through the kubelet's code, then through pullkeys check in
// one run (whose cache mimics the kubelet's), and compares both with the steps.
func runSteps(t *testing.T, s *scenario, steps []step) {
	t.Helper()
	var images []string
	for i, st := range steps {
		image := s.image(st.host, st.rest)
		images = append(images, image)
		before := len(s.execs())
		got := lookup(t, image, pod{})
		execd := len(s.execs()) > before
		if execd != st.exec {
			t.Errorf("step %d: kubelet Lookup(%q) exec'd the plugin: %v, want %v", i, image, execd, st.exec)
		}
		want := st.creds
		if want == nil {
			want = []cred{}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("step %d: kubelet Lookup(%q) mismatch (-want +got):\n%s", i, image, diff)
		}
	}
	rep := s.check(images, nil)
	for i, img := range rep.Images {
		st := steps[i]
		pr := img.Providers[0]
		if execd := pr.Exec != nil; execd != st.exec {
			t.Errorf("step %d: pullkeys check of %s exec'd: %v (cached from %+v), the kubelet: %v", i, img.Image, execd, pr.CachedFrom, st.exec)
		}
		want := st.creds
		if want == nil {
			want = []cred{}
		}
		if diff := cmp.Diff(want, checkCreds(img)); diff != "" {
			t.Errorf("step %d: pullkeys check of %s mismatch with the kubelet (-kubelet +check):\n%s", i, img.Image, diff)
		}
	}
}

func pass(n int) []cred { return []cred{{"user", fmt.Sprintf("pass-%d", n)}} }

// TestCacheKeyType proves the kubelet caches an answer by its cacheKeyType: Image by the
// repository, Registry by the host with port, Global once for every matching image, even one
// on another host the answer's auth does not cover.
func TestCacheKeyType(t *testing.T) {
	tests := []struct {
		name    string
		keyType string
		steps   []step
	}{
		{
			name:    "Image",
			keyType: "Image",
			steps: []step{
				{"reg", "a:1", true, pass(1)},
				{"reg", "a:2", false, pass(1)}, // another tag is the same repository
				{"reg", "a@sha256:" + strings.Repeat("0", 64), false, pass(1)},
				{"reg", "b", true, pass(2)},
				{"other", "a", true, []cred{{"user", "pass-3"}}},
			},
		},
		{
			name:    "Registry",
			keyType: "Registry",
			steps: []step{
				{"reg", "a", true, pass(1)},
				{"reg", "b/c", false, pass(1)},
				{"reg:5000", "a", true, pass(2)}, // the registry key holds the port
				{"other", "a", true, pass(3)},
				{"reg", "d", false, pass(1)},
			},
		},
		{
			name:    "Global",
			keyType: "Global",
			steps: []step{
				{"reg", "a", true, pass(1)},
				{"reg", "b", false, pass(1)},
				// The global answer is reused for every image matchImages match, without an
				// exec, even where its auth (keyed by reg.<domain>) does not apply.
				{"other", "a", false, nil},
				{"reg:5000", "a", false, nil},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t)
			p := s.fake("FAKE_CACHE_KEY_TYPE", tt.keyType)
			p.MatchImages = append(p.MatchImages, "*."+s.domain+":5000")
			s.register(nil, p)
			runSteps(t, s, tt.steps)
		})
	}
}

// TestCacheDuration proves how long the kubelet keeps an answer: the answer's cacheDuration,
// else the provider's defaultCacheDuration; zero from either means not cached.
func TestCacheDuration(t *testing.T) {
	tests := []struct {
		name          string
		defaultCache  string // defaultCacheDuration of the config
		cacheDuration string // the answer's; "" leaves it off the wire
		cached        bool
	}{
		{name: "absent uses defaultCacheDuration", defaultCache: "1h", cached: true},
		{name: "absent with defaultCacheDuration 0 is not cached", defaultCache: "0s", cached: false},
		{name: "0s is not cached", defaultCache: "1h", cacheDuration: "0s", cached: false},
		{name: "explicit beats defaultCacheDuration 0", defaultCache: "0s", cacheDuration: "1h", cached: true},
		{name: "explicit shorter than default", defaultCache: "12h", cacheDuration: "30m", cached: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t)
			p := s.fake()
			if tt.cacheDuration != "" {
				p = s.fake("FAKE_CACHE_DURATION", tt.cacheDuration)
			}
			p.DefaultCacheDuration.Duration = mustDuration(t, tt.defaultCache)
			s.register(nil, p)
			second := pass(2)
			if tt.cached {
				second = pass(1)
			}
			runSteps(t, s, []step{
				{"reg", "a", true, pass(1)},
				{"reg", "a", !tt.cached, second},
			})
		})
	}
}

// TestMatchImages proves that the kubelet execs a plugin only for images its matchImages
// match, with the rules keyring.Match implements (exact port, equal label count, string
// prefix path), and that pullkeys check agrees image by image.
func TestMatchImages(t *testing.T) {
	s := newScenario(t)
	p := s.fake("FAKE_CACHE_DURATION", "0s")
	p.MatchImages = []string{"*." + s.domain + ":5000/team", "exact." + s.domain + "/only"}
	s.register(nil, p)
	d := s.domain
	tests := []struct {
		name  string
		image string
		match bool
	}{
		{"pattern with port, image without", "a." + d + "/team/x", false},
		{"same port and path prefix", "a." + d + ":5000/team/x", true},
		{"path is a string prefix, not a segment", "a." + d + ":5000/teamx/y", true},
		{"other path", "a." + d + ":5000/other/x", false},
		{"one more label", "a.b." + d + ":5000/team/x", false},
		{"other port", "a." + d + ":5001/team/x", false},
		{"exact host and path", "exact." + d + "/only/app", true},
		{"exact host, path prefix", "exact." + d + "/onlyone", true},
		{"exact host, other path", "exact." + d + "/other", false},
		{"docker hub", "nginx:1.27", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.execs())
			got := lookup(t, tt.image, pod{})
			execd := len(s.execs()) > before
			if execd != tt.match {
				t.Errorf("kubelet Lookup(%q) exec'd the plugin: %v, want %v", tt.image, execd, tt.match)
			}
			if tt.match != (len(got) == 1) {
				t.Errorf("kubelet Lookup(%q) = %v, want credentials: %v", tt.image, got, tt.match)
			}
			r := repo(t, tt.image)
			var ours bool
			for _, pat := range p.MatchImages {
				if ok, _ := keyring.Match(pat, r); ok {
					ours = true
				}
			}
			if ours != tt.match {
				t.Errorf("keyring.Match(%q, %q) = %v, the kubelet: %v", p.MatchImages, r, ours, tt.match)
			}
			rep := s.check([]string{tt.image}, nil)
			if m := rep.Images[0].Providers[0].Matched; m != tt.match {
				t.Errorf("pullkeys check of %s: matched %v, the kubelet: %v", tt.image, m, tt.match)
			}
			if diff := cmp.Diff(got, checkCreds(rep.Images[0])); diff != "" {
				t.Errorf("pullkeys check of %s mismatch with the kubelet (-kubelet +check):\n%s", tt.image, diff)
			}
		})
	}
}

// TestProviderError proves that a failing plugin costs the pull its credentials and nothing
// else: no panic, the plugin's stderr in the kubelet's log, nothing cached (the next pull
// execs again), and pullkeys check reports the failure.
func TestProviderError(t *testing.T) {
	s := newScenario(t)
	s.register(nil, s.fake("FAKE_ERROR", "registry backend unavailable"))
	image := s.image("reg", "app")
	for i := range 2 {
		mark := kubeletLog.Len()
		if got := lookup(t, image, pod{}); len(got) != 0 {
			t.Errorf("pull %d: kubelet Lookup(%q) = %v, want no credentials", i, image, got)
		}
		if n := len(s.execs()); n != i+1 {
			t.Errorf("pull %d: %d execs so far, want %d (failures are not cached)", i, n, i+1)
		}
		logged := kubeletLog.Since(mark)
		if !strings.Contains(logged, "fakeplugin: registry backend unavailable") {
			t.Errorf("pull %d: the kubelet's log lacks the plugin's stderr line:\n%s", i, logged)
		}
	}
	rep := s.check([]string{image}, nil)
	pr := rep.Images[0].Providers[0]
	if rep.Images[0].Status != pkkubelet.StatusError || pr.Exec == nil || !strings.Contains(pr.Exec.Stderr, "registry backend unavailable") {
		t.Errorf("pullkeys check of a failing plugin: status %q, provider %+v; want status error with the plugin's stderr", rep.Images[0].Status, pr)
	}
}

// TestNoCredentials: an empty auth is a valid answer, cached like any other.
func TestNoCredentials(t *testing.T) {
	s := newScenario(t)
	s.register(nil, s.fake("FAKE_AUTH", "{}"))
	runSteps(t, s, []step{
		{"reg", "a", true, nil},
		{"reg", "a", false, nil},
	})
}

// TestSeveralKeys: every matching auth key of an answer reaches the runtime, most specific
// (reverse lexical) first; a key with a scheme or a /v2/ path is the host.
func TestSeveralKeys(t *testing.T) {
	s := newScenario(t)
	d := s.domain
	auth := fmt.Sprintf(`{
		"reg.%[1]s":                   {"username":"host","password":"p1"},
		"reg.%[1]s/team":              {"username":"team","password":"p2"},
		"https://*.%[1]s/v2/":         {"username":"glob","password":"p3"},
		"reg.%[1]s/teamx":             {"username":"teamx","password":"p4"},
		"reg.%[1]s:5000":              {"username":"port","password":"p5"},
		"http://reg.%[1]s/team/app":   {"username":"app","password":"p6"}
	}`, d)
	s.register(nil, s.fake("FAKE_AUTH", auth))
	runSteps(t, s, []step{
		{"reg", "team/app", true, []cred{{"app", "p6"}, {"team", "p2"}, {"host", "p1"}, {"glob", "p3"}}},
	})
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTwoProviders: the answers of all matching providers are merged into one keyring, keys
// most specific first and, under one key, providers in config order; each provider keeps its
// own cache.
func TestTwoProviders(t *testing.T) {
	s := newScenario(t)
	p0 := s.fake("FAKE_AUTH", `{"{registry}":{"username":"first","password":"p0-{n}"}}`, "FAKE_CACHE_KEY_TYPE", "Registry")
	p1 := s.fake("FAKE_AUTH", `{"{registry}":{"username":"second","password":"p1-{n}"},"{registry}/team":{"username":"second-team","password":"p1t-{n}"}}`, "FAKE_CACHE_DURATION", "0s")
	p1.Name += "b"
	s.register(nil, p0, p1)
	var images []string
	var got [][]cred
	for _, image := range []string{s.image("reg", "team/app"), s.image("reg", "other")} {
		images = append(images, image)
		got = append(got, lookup(t, image, pod{}))
	}
	// Execs are numbered across both plugins (one log): p0 execs once (Registry cache), p1
	// every time (0s).
	want := [][]cred{
		{{"second-team", "p1t-2"}, {"first", "p0-1"}, {"second", "p1-2"}},
		{{"first", "p0-1"}, {"second", "p1-3"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kubelet lookups mismatch (-want +got):\n%s", diff)
	}
	rep := s.check(images, nil)
	for i, img := range rep.Images {
		if diff := cmp.Diff(want[i], checkCreds(img)); diff != "" {
			t.Errorf("pullkeys check of %s mismatch with the kubelet (-kubelet +check):\n%s", img.Image, diff)
		}
	}
}

// TestEnvOverride: the plugin runs with the kubelet's environment and the config's env
// appended, so a config entry overrides a variable of the kubelet's.
func TestEnvOverride(t *testing.T) {
	s := newScenario(t)
	t.Setenv("FAKE_CACHE_KEY_TYPE", "Global")                                                  // the kubelet's own environment
	t.Setenv("FAKE_AUTH", `{"*.`+s.domain+`":{"username":"from-kubelet-env","password":"x"}}`) // not overridden
	s.register(nil, s.fake("FAKE_CACHE_KEY_TYPE", "Registry"))
	runSteps(t, s, []step{
		{"reg", "a", true, []cred{{"from-kubelet-env", "x"}}},
		{"reg", "b", false, []cred{{"from-kubelet-env", "x"}}},
		{"other", "a", true, []cred{{"from-kubelet-env", "x"}}}, // Registry, not Global: a new exec
	})
}
