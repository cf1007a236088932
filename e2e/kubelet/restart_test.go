package kubelet

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"time"
	"unsafe"

	"k8s.io/klog/v2"
	kubeletplugin "k8s.io/kubernetes/pkg/credentialprovider/plugin"
)

// A kubelet restart. The kubelet's plugin registry and caches live as long as its process,
// and one process cannot register a provider name twice: a kubelet that starts afresh on a
// scenario's config and bin dir is another process, this test binary run with
// restartedKubeletArg (see TestMain). It inherits this process's environment and working
// directory unchanged, so it execs each plugin exactly as the test's own kubelet code does:
// same path, args, environment, working directory and request.

// restartedKubeletArg, as the test binary's first argument, makes it a kubelet that
// registers the providers of a config, pulls one image and exits (restartedKubelet).
const restartedKubeletArg = "-pullkeys-e2e.restarted-kubelet"

// kubeletPull is what a kubelet made of one pull of an image with one provider.
type kubeletPull struct {
	// Creds are the credentials the kubelet hands to the runtime.
	Creds []cred
	// CacheDuration is how long the kubelet keeps the answer: its cacheDuration (or the
	// provider's defaultCacheDuration), read from the kubelet's cache (kubeletPullOnce).
	CacheDuration time.Duration
}

// restartKubelet starts a new kubelet on the scenario's config and bin dir, pulls image for a
// pod without a service account with the provider called provider, and returns the pull.
func (s *scenario) restartKubelet(image, provider string) *kubeletPull {
	s.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(exe, restartedKubeletArg, s.configPath, s.binDir, provider, image)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("restarted kubelet Lookup(%q): %v\nits log:\n%s", image, err, stderr.String())
	}
	if strings.Contains(stderr.String(), kubeletRejected) {
		s.t.Errorf("restarted kubelet Lookup(%q): the plugin failed:\n%s", image, stderr.String())
	}
	var pull kubeletPull
	if err := json.Unmarshal(stdout.Bytes(), &pull); err != nil {
		s.t.Fatalf("restarted kubelet Lookup(%q): %v in its output %q", image, err, stdout.String())
	}
	return &pull
}

// restartedKubelet is the main function of a restarted kubelet: args are the config, the bin
// dir, a provider's name and the image. It prints the kubeletPull as JSON on stdout; its log
// (klog, verbosity 5) goes to stderr.
func restartedKubelet(args []string) int {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{"logtostderr": "true", "v": "5"} {
		if err := fs.Set(name, value); err != nil {
			panic(err)
		}
	}
	defer klog.Flush()
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "restarted kubelet: %v\n", err)
		return 1
	}
	if len(args) != 4 {
		return fail(fmt.Errorf("want config, bin dir, provider and image, got %q", args))
	}
	if err := kubeletRegisterWith(args[0], args[1], &fakeAPI{}); err != nil {
		return fail(fmt.Errorf("RegisterCredentialProviderPlugins: %w", err))
	}
	pull, err := kubeletPullOnce(args[3], args[2])
	if err != nil {
		return fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(pull); err != nil {
		return fail(err)
	}
	return 0
}

// kubeletPullOnce pulls image with the kubelet's code (kubeletLookup) and reads how long the
// kubelet keeps the answer of the provider called provider, which nothing the kubelet logs or
// returns shows: the kubelet's cache of that provider must hold one entry, whose expiry is the
// time the kubelet stored the answer plus its cacheDuration. The kubelet stores it just before
// the pull returns, and the plugins' cacheDurations are whole seconds: the expiry less the end
// of the pull, rounded up to the second, is the cacheDuration.
func kubeletPullOnce(image, provider string) (*kubeletPull, error) {
	creds, err := kubeletLookup(image, pod{})
	end := time.Now()
	if err != nil {
		return nil, err
	}
	expiry, err := kubeletCacheExpiry(provider)
	if err != nil {
		return nil, err
	}
	d := expiry.Sub(end)
	if r := d.Truncate(time.Second); r != d {
		d = r + time.Second
	}
	return &kubeletPull{Creds: creds, CacheDuration: d}, nil
}

// kubeletCacheExpiry returns the expiry of the one entry of the kubelet's cache of the
// provider called name. The kubelet keeps it in unexported fields of k8s.io/kubernetes
// v1.36.3's pkg/credentialprovider/plugin, read here by reflection: the keyring's providers
// ([]*perPodPluginProvider), each one's provider (*pluginProvider) with its name and cache
// (a client-go ExpirationCache of *cacheEntry), and each entry's expiresAt.
func kubeletCacheExpiry(name string) (time.Time, error) {
	keyring := reflect.ValueOf(kubeletplugin.NewExternalCredentialProviderDockerKeyring("", "", "", ""))
	providers, err := unexported(keyring.Elem(), "providers")
	if err != nil {
		return time.Time{}, err
	}
	for i := 0; i < providers.Len(); i++ {
		p, err := unexported(providers.Index(i).Elem().Elem(), "provider")
		if err != nil {
			return time.Time{}, err
		}
		p = p.Elem()
		pname, err := unexported(p, "name")
		if err != nil {
			return time.Time{}, err
		}
		if pname.String() != name {
			continue
		}
		c, err := unexported(p, "cache")
		if err != nil {
			return time.Time{}, err
		}
		store, ok := c.Interface().(interface{ List() []any })
		if !ok {
			return time.Time{}, fmt.Errorf("the kubelet's cache of %s is a %s, without List", name, c.Type())
		}
		entries := store.List()
		if len(entries) != 1 {
			return time.Time{}, fmt.Errorf("the kubelet's cache of %s holds %d entries, want 1", name, len(entries))
		}
		exp, err := unexported(reflect.ValueOf(entries[0]).Elem(), "expiresAt")
		if err != nil {
			return time.Time{}, err
		}
		t, ok := exp.Interface().(time.Time)
		if !ok {
			return time.Time{}, fmt.Errorf("the kubelet's cache entry's expiresAt is a %s", exp.Type())
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("the kubelet has no provider %s", name)
}

// unexported returns the field called name of the struct v (addressable), readable.
func unexported(v reflect.Value, name string) (reflect.Value, error) {
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("the kubelet's %s is not a struct, no field %s", v.Type(), name)
	}
	f := v.FieldByName(name)
	if !f.IsValid() {
		return reflect.Value{}, fmt.Errorf("the kubelet's %s has no field %s", v.Type(), name)
	}
	if !f.CanAddr() {
		return reflect.Value{}, fmt.Errorf("the kubelet's %s.%s is not addressable", v.Type(), name)
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem(), nil
}
