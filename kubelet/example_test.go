package kubelet_test

import (
	"fmt"
	"os"

	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
)

// Why a provider is not used for an image: the kubelet's matching rules, one per pattern.
func ExampleExplainMatch() {
	matched, results := kubelet.ExplainMatch([]string{"*.gcr.io", "gcr.io/team"}, "gcr.io/other/app")
	fmt.Println("matched:", matched)
	for _, r := range results {
		fmt.Printf("%s: %s: %s\n", r.Pattern, r.Reason, r.Detail)
	}
	// Output:
	// matched: false
	// *.gcr.io: label count: pattern host "*.gcr.io" has 3 label(s), image host "gcr.io" has 2: a '*' matches within one label, never across a '.'
	// gcr.io/team: path: image path "/other/app" does not start with pattern path "/team"
}

// Validate a config with the kubelet's rules; each problem names its field.
func ExampleValidate() {
	provs, _, problems := kubelet.DecodeConfig([]byte(`
apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
- name: ecr-credential-provider
  matchImages: ["*.dkr.ecr.*.amazonaws.com", "%zz"]
  apiVersion: credentialprovider.kubelet.k8s.io/v1
`))
	cfg := &kubelet.Config{Path: "config.yaml"}
	for i, p := range provs {
		cfg.Providers = append(cfg.Providers, kubelet.Provider{CredentialProvider: p, File: "config.yaml", Index: i})
	}
	problems = append(problems, kubelet.Validate(cfg)...)
	_ = problems.WriteText(os.Stdout)
	// Output:
	// error: config.yaml: providers[0].matchImages[1]: Invalid value: "%zz": match image is invalid: parse "https://%zz": invalid URL escape "%zz"
	// error: config.yaml: providers[0].defaultCacheDuration: Required value
}

// The kubelet caches an answer under a key chosen by its cacheKeyType.
func ExampleCacheKey() {
	for _, kt := range []providers.CacheKeyType{providers.CacheKeyImage, providers.CacheKeyRegistry, providers.CacheKeyGlobal} {
		key, _ := kubelet.CacheKey(kt, "registry.example:5000/team/app")
		fmt.Printf("%s: %s\n", kt, key)
	}
	// Output:
	// Image: registry.example:5000/team/app
	// Registry: registry.example:5000
	// Global: global
}

// The request the kubelet writes on a v1beta1 plugin's stdin.
func ExampleEncodeRequest() {
	data, _ := kubelet.EncodeRequest(&providers.Request{Image: "docker.io/library/nginx"}, providers.APIVersionV1beta1)
	fmt.Print(string(data))
	// Output:
	// {"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","image":"docker.io/library/nginx"}
}
