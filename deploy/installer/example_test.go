package installer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pullkeys/pullkeys/deploy/installer"
)

// Install copies the binaries, then the config once the kubelet would accept it; a second run
// changes nothing.
func ExampleInstall() {
	root, _ := os.MkdirTemp("", "pullkeys-installer-example-")
	defer os.RemoveAll(root)
	from := filepath.Join(root, "image")
	os.MkdirAll(from, 0o755)
	os.WriteFile(filepath.Join(from, "dockercfg-credential-provider"), []byte("#!/bin/sh\n"), 0o755)
	config := filepath.Join(root, "config.yaml")
	os.WriteFile(config, []byte(`apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: dockercfg-credential-provider
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages: ["registry.example.io"]
    defaultCacheDuration: 5m
`), 0o644)

	opts := installer.Options{
		From:      from,
		BinDir:    filepath.Join(root, "node", "bin"),
		Configs:   []string{config},
		ConfigDir: filepath.Join(root, "node"),
	}
	for range 2 {
		files, err := installer.Install(context.Background(), opts)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, f := range files {
			fmt.Printf("%s %s %#o\n", f.Action, filepath.Base(f.Path), f.Mode)
		}
	}
	// Output:
	// installed dockercfg-credential-provider 0755
	// installed config.yaml 0644
	// unchanged dockercfg-credential-provider 0755
	// unchanged config.yaml 0644
}
