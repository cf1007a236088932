package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/kubelet"
)

// TestSeveralProviders: one config with the three plugins, as on a node that pulls from a
// private registry, ECR and GCR. For each image the kubelet execs only the providers whose
// matchImages match, merges their answers, and hands the runtime every credential whose key
// matches, in its order: keys in reverse lexical order, and for one key the providers in
// config order. The runtime tries them in that order until a pull succeeds.
func TestSeveralProviders(t *testing.T) {
	ctx := context.Background()
	alice := harness.Credential{Username: "alice", Password: harness.RandomString(20)}
	gcrToken := "ya29.e2e-" + harness.RandomString(40)
	fake := ecrtest.Start(t)
	md := startMetadata(t, gcrToken)
	reg := startRegistry(t, harness.RegistryOptions{
		Hosts: []string{ecrHost, "gcr.io"},
		Users: map[string]string{alice.Username: alice.Password, gcrUser: gcrToken},
	})
	push(t, reg, "e2e/app", "v1")
	push(t, reg, "team/app", "v1")
	push(t, reg, gcrtest.ProjectID+"/app", "v1")

	// The docker config also holds a stale login for the ECR host (docker login with a token
	// that has since expired): the kubelet hands it over first, as the dockercfg provider
	// comes first in the config, and the runtime falls through to the ECR plugin's token.
	stale := harness.Credential{Username: "AWS", Password: "expired-" + harness.RandomString(30)}
	dockerConfig := filepath.Join(t.TempDir(), "config.json")
	if err := harness.WriteDockerConfig(dockerConfig, map[string]harness.Credential{reg.Addr: alice, ecrHost: stale}); err != nil {
		t.Fatal(err)
	}
	node := newNode(t,
		harness.NewProvider(harness.Dockercfg, []string{reg.Addr, "*.dkr.ecr.*.amazonaws.com"}, nil, "--config="+dockerConfig),
		ecrProvider(t, fake),
		gcrProvider(t, md),
	)

	private := reg.Addr + "/e2e/app:v1"
	onECR := ecrHost + "/team/app:v1"
	onGCR := "gcr.io/" + gcrtest.ProjectID + "/app:v1"
	report, err := node.Check(ctx, private, onECR, onGCR)
	if err != nil {
		t.Fatal(err)
	}
	if errs := report.Problems.Errors(); len(errs) > 0 {
		t.Fatalf("config problems: %v", errs)
	}
	ecrToken := issued(t, fake, ecrtest.GetAuthorizationToken)
	if err := reg.AddUser("AWS", ecrToken); err != nil {
		t.Fatal(err)
	}

	type cred struct{ Provider, Key, Username string }
	tests := []struct {
		name      string
		image     string
		matched   []string // providers the kubelet execs, in config order
		wantCreds []cred   // in the runtime's order
		wantUsed  int      // index of the credential the pull succeeds with
	}{
		{
			name:      "private registry",
			image:     private,
			matched:   []string{harness.Dockercfg},
			wantCreds: []cred{{harness.Dockercfg, reg.Addr, alice.Username}},
		},
		{
			name:    "ECR",
			image:   onECR,
			matched: []string{harness.Dockercfg, harness.ECR},
			wantCreds: []cred{
				{harness.Dockercfg, ecrHost, "AWS"},
				{harness.ECR, ecrHost, "AWS"},
			},
			wantUsed: 1,
		},
		{
			name:      "GCR",
			image:     onGCR,
			matched:   []string{harness.GCR},
			wantCreds: []cred{{harness.GCR, "gcr.io", gcrUser}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := harness.ImageOf(report, tt.image)
			if err != nil {
				t.Fatal(err)
			}
			if img.Status != kubelet.StatusOK {
				t.Fatalf("Check(%q) = %s, want ok", tt.image, describe(img))
			}
			var matched []string
			for _, p := range img.Providers {
				if p.Matched {
					matched = append(matched, p.Name)
				} else if p.Exec != nil || p.CachedFrom != nil {
					t.Errorf("Check(%q): provider %s does not match but was used", tt.image, p.Name)
				}
			}
			if diff := cmp.Diff(tt.matched, matched); diff != "" {
				t.Errorf("Check(%q) matched providers (-want +got):\n%s", tt.image, diff)
			}
			var got []cred
			for _, c := range img.Credentials {
				got = append(got, cred{c.Provider, c.Key, c.Username})
			}
			if diff := cmp.Diff(tt.wantCreds, got); diff != "" {
				t.Errorf("Check(%q) credentials in the runtime's order (-want +got):\n%s", tt.image, diff)
			}
			used, _, err := reg.PullWithAny(ctx, tt.image, credentials(img))
			if err != nil || used != tt.wantUsed {
				t.Errorf("PullWithAny(%q) = credential %d, %v; want credential %d to pull", tt.image, used, err, tt.wantUsed)
			}
		})
	}
}

// TestSeveralProvidersKeyOrder: answers from two providers under different keys that both
// match one image reach the runtime in reverse lexical order of the keys, whatever the
// config order: the kubelet's keyring sorts them. Two copies of the dockercfg plugin under
// different names stand for two providers (the kubelet runs a provider by its file name).
func TestSeveralProvidersKeyOrder(t *testing.T) {
	ctx := context.Background()
	alice := harness.Credential{Username: "alice", Password: harness.RandomString(20)}
	reg := startRegistry(t, harness.RegistryOptions{Users: map[string]string{alice.Username: alice.Password}})
	push(t, reg, "e2e/app", "v1")
	image := reg.Addr + "/e2e/app:v1"

	bin := t.TempDir()
	for _, name := range []string{"host-level", "repo-level"} {
		if err := copyFile(filepath.Join(binDir, harness.Dockercfg), filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	hostLevel, repoLevel := filepath.Join(dir, "host.json"), filepath.Join(dir, "repo.json")
	// The host-level login is wrong; the repository-level one is right.
	if err := harness.WriteDockerConfig(hostLevel, map[string]harness.Credential{reg.Addr: {Username: "alice", Password: "wrong"}}); err != nil {
		t.Fatal(err)
	}
	if err := harness.WriteDockerConfig(repoLevel, map[string]harness.Credential{reg.Addr + "/e2e": alice}); err != nil {
		t.Fatal(err)
	}
	node := newNode(t,
		harness.NewProvider("host-level", []string{reg.Addr}, nil, "--config="+hostLevel),
		harness.NewProvider("repo-level", []string{reg.Addr}, nil, "--config="+repoLevel),
	)
	node.BinDir = bin
	img := check(t, node, image)
	var got []string
	for _, c := range img.Credentials {
		got = append(got, c.Provider+" "+c.Key)
	}
	// "127.0.0.1:port/e2e" sorts after "127.0.0.1:port", so in reverse order it comes first.
	want := []string{"repo-level " + reg.Addr + "/e2e", "host-level " + reg.Addr}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Check(%q) credentials (-want +got):\n%s", image, diff)
	}
	used, _, err := reg.PullWithAny(ctx, image, credentials(img))
	if err != nil || used != 0 {
		t.Errorf("PullWithAny(%q) = credential %d, %v; want the first to pull", image, used, err)
	}
}
