package kubelet

import (
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/providers/keyring"
)

func FuzzExplainMatch(f *testing.F) {
	for _, seed := range [][2]string{
		{"*.kubernetes.io", "prefix.kubernetes.io"},
		{"*.kubernetes.io", "kubernetes.io"},
		{"prefix.*.io/foo", "prefix.kubernetes.io:1111/foo/bar"},
		{"example.io/team", "example.io/teamx/img"},
		{"https://quay.io", "quay.io/a"},
		{"%zz", "x.io/a"},
		{"reg[.io", "rega.io/x"},
		{"[::1]:5000", "[::1]:5000/a"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, image string) {
		matched, results := ExplainMatch([]string{pattern}, image)
		want, err := keyring.Match(pattern, image)
		if matched != (want && err == nil) {
			t.Fatalf("ExplainMatch(%q, %q) = %v, keyring.Match = %v, %v", pattern, image, matched, want, err)
		}
		if len(results) != 1 {
			t.Fatalf("ExplainMatch(%q, %q) gave %d results, want 1", pattern, image, len(results))
		}
		if r := results[0]; !r.Match && r.Reason == "" {
			t.Fatalf("ExplainMatch(%q, %q) = no match without a reason", pattern, image)
		}
	})
}

func FuzzDecodeConfig(f *testing.F) {
	f.Add([]byte(header + "providers:\n" + provider("a")))
	f.Add([]byte(`{"apiVersion":"kubelet.config.k8s.io/v1beta1","kind":"CredentialProviderConfig","providers":[{"name":"x","name":"y"}]}`))
	f.Add([]byte("apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n- name: a\n  env: [{name: T, value: SECRETVALUE}]\n  bogus: 1\n"))
	f.Add([]byte("providers: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		provs, _, problems := DecodeConfig(data)
		for _, p := range problems {
			if p.Severity != SeverityError || p.Detail == "" && p.Type == "" {
				t.Fatalf("DecodeConfig(%q) problem %+v: want an error with a detail", data, p)
			}
		}
		cfg := &Config{Path: "c.yaml", Files: []string{"c.yaml"}}
		for i, p := range provs {
			cfg.Providers = append(cfg.Providers, Provider{CredentialProvider: p, File: "c.yaml", Index: i})
		}
		for _, p := range Validate(cfg) {
			if !strings.HasPrefix(p.Field, "providers") {
				t.Fatalf("Validate(%q) problem %+v: want a field path under providers", data, p)
			}
		}
	})
}
