// Command typesfloor is the floor program with the kubelet's API types linked in: it decodes
// the request into k8s.io/kubelet's credentialprovider/v1 CredentialProviderRequest and encodes
// a fixed v1 CredentialProviderResponse, both with encoding/json, and uses no apimachinery
// codec. Its difference from the floor is what importing those types costs (they bring
// k8s.io/apimachinery's runtime and meta/v1, and with them net/http, crypto/tls, http2 and
// klog); the difference between it and the fixed program is the cost of the codecs and of
// providers.Main.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	v1 "k8s.io/kubelet/pkg/apis/credentialprovider/v1"
)

func main() {
	var req v1.CredentialProviderRequest
	data, err := io.ReadAll(os.Stdin)
	if err == nil {
		err = json.Unmarshal(data, &req)
	}
	if err == nil && (req.Kind != "CredentialProviderRequest" || req.Image == "") {
		err = fmt.Errorf("not a credential provider request")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "typesfloor:", err)
		os.Exit(1)
	}
	resp := v1.CredentialProviderResponse{
		TypeMeta:      metav1.TypeMeta{APIVersion: req.APIVersion, Kind: "CredentialProviderResponse"},
		CacheKeyType:  v1.RegistryPluginCacheKeyType,
		CacheDuration: &metav1.Duration{Duration: time.Hour},
		Auth:          map[string]v1.AuthConfig{"typesfloor.invalid": {Username: "typesfloor", Password: "typesfloor"}},
	}
	if err := json.NewEncoder(os.Stdout).Encode(&resp); err != nil {
		fmt.Fprintln(os.Stderr, "typesfloor:", err)
		os.Exit(1)
	}
}
