package installer

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/kubelet"
)

// FuzzInstallConfig checks the installer's promise on arbitrary configs: it never panics; a
// config it installs is one the kubelet accepts (pullkeys validate finds no error against the
// bin dir it wrote); a config it refuses is not on the node; and its errors never quote an env
// value.
func FuzzInstallConfig(f *testing.F) {
	f.Add([]byte(validConfig))
	f.Add([]byte(strings.Replace(validConfig, "matchImages", "MatchImages", 1)))
	f.Add([]byte(strings.Replace(validConfig, "dockercfg-credential-provider", "ecr-credential-provider", 1)))
	f.Add([]byte(`{"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig","providers":[{"name":"dockercfg-credential-provider","apiVersion":"credentialprovider.kubelet.k8s.io/v1","matchImages":["*"],"defaultCacheDuration":"0s","env":[{"name":"X","value":"env-value-that-must-never-be-printed"}]}]}`))
	f.Add([]byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: CredentialProviderConfig\nproviders: []\n"))
	f.Add([]byte("kind: CredentialProviderConfig\napiVersion: kubelet.config.k8s.io/v1\nproviders:\n- name: ..\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, config []byte) {
		root := t.TempDir()
		from := filepath.Join(root, "image")
		if err := os.MkdirAll(from, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"dockercfg-credential-provider", "ecr-credential-provider"} {
			if err := os.WriteFile(filepath.Join(from, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		src := filepath.Join(root, "config.yaml")
		if err := os.WriteFile(src, config, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := Options{From: from, BinDir: filepath.Join(root, "host", "bin"), Configs: []string{src}, ConfigDir: filepath.Join(root, "host")}
		installed := filepath.Join(opts.ConfigDir, "config.yaml")

		_, err := Install(context.Background(), opts)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Install() = %v, want only %v for a bad config", err, ErrInvalidConfig)
			}
			if _, statErr := os.Stat(installed); !errors.Is(statErr, fs.ErrNotExist) {
				t.Fatalf("Install() = %v, but installed the config", err)
			}
			// The fuzzer moves the marker around: quoting it is a leak only when every place it
			// stands in the input is an env value (an apiVersion of that text may be quoted).
			const marker = "env-value-that-must-never-be-printed"
			doc := string(config)
			onlyEnv := strings.Count(doc, marker) == strings.Count(doc, `"value":"`+marker)+strings.Count(doc, "value: "+marker)
			if onlyEnv && strings.Contains(err.Error(), marker) {
				t.Fatalf("Install() error quotes an env value: %v", err)
			}
			return
		}
		if _, problems := kubelet.LoadConfig(installed, opts.BinDir); len(problems.Errors()) > 0 {
			t.Fatalf("Install() installed a config the kubelet refuses: %v", problems.Errors())
		}
	})
}
