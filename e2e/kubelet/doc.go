// Package kubelet is the kubelet-conformance suite of pullkeys: a second client of the
// plugins that is the kubelet's own code (k8s.io/kubernetes pkg/credentialprovider and
// pkg/credentialprovider/plugin at v1.36.3), in a Go module of its own so that the main
// module does not depend on k8s.io/kubernetes.
//
// The tests register plugins through the kubelet's RegisterCredentialProviderPlugins and
// pull through NewExternalCredentialProviderDockerKeyring(...).Lookup, exactly as the image
// manager does, and compare what the kubelet does with what pullkeys says it does
// (providers.DecodeResponse, kubelet.Check and LoadConfig, providers/keyring).
// Where they disagree, the kubelet is right. See README.md.
package kubelet
