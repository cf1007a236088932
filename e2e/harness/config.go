package harness

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeletconfigv1 "k8s.io/kubelet/config/v1"
	"sigs.k8s.io/yaml"
)

// Provider is one entry of a CredentialProviderConfig, in the kubelet's own v1 type.
type Provider = kubeletconfigv1.CredentialProvider

// NewProvider returns a v1 provider entry: the plugin name (its file name in the bin dir), its
// matchImages, a defaultCacheDuration of 10 minutes, the v1 protocol, args and env (sorted by
// name, so the file is the same every run).
func NewProvider(name string, matchImages []string, env map[string]string, args ...string) Provider {
	p := Provider{
		Name:                 name,
		MatchImages:          matchImages,
		DefaultCacheDuration: &metav1.Duration{Duration: 10 * time.Minute},
		APIVersion:           "credentialprovider.kubelet.k8s.io/v1",
		Args:                 args,
	}
	names := make([]string, 0, len(env))
	for n := range env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p.Env = append(p.Env, kubeletconfigv1.ExecEnvVar{Name: n, Value: env[n]})
	}
	return p
}

// WriteConfig writes a kubelet.config.k8s.io/v1 CredentialProviderConfig as YAML to path, as
// an operator would for --image-credential-provider-config.
func WriteConfig(path string, providers ...Provider) error {
	data, err := ConfigYAML(providers...)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("harness: write config: %w", err)
	}
	return nil
}

// ConfigYAML returns a kubelet.config.k8s.io/v1 CredentialProviderConfig as YAML.
func ConfigYAML(providers ...Provider) ([]byte, error) {
	cfg := kubeletconfigv1.CredentialProviderConfig{
		TypeMeta:  metav1.TypeMeta{APIVersion: kubeletconfigv1.SchemeGroupVersion.String(), Kind: "CredentialProviderConfig"},
		Providers: providers,
	}
	data, err := yaml.Marshal(&cfg)
	if err != nil {
		return nil, fmt.Errorf("harness: config: %w", err)
	}
	return data, nil
}

// WriteDockerConfig writes a docker config.json whose auths map each key (a registry host,
// host:port or URL, as docker login writes it) to its credential, base64 "user:password" in
// the auth field as docker writes it. The file is readable by its owner only.
func WriteDockerConfig(path string, auths map[string]Credential) error {
	type entry struct {
		Auth string `json:"auth"`
	}
	doc := struct {
		Auths map[string]entry `json:"auths"`
	}{Auths: map[string]entry{}}
	for k, c := range auths {
		doc.Auths[k] = entry{Auth: base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))}
	}
	data, err := json.MarshalIndent(doc, "", "\t")
	if err != nil {
		return fmt.Errorf("harness: docker config: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("harness: write docker config: %w", err)
	}
	return nil
}
