package node

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
)

// ecrHost is the fake ECR's default account's private registry, served by the loopback
// registry through hosts.toml.
const ecrHost = ecrtest.DefaultAccount + ".dkr.ecr.us-east-1.amazonaws.com"

// TestPrivateImageCloudProviders is the verification through the cloud plugins: the image is
// named after the cloud registry (gcr.io, an ECR host), containerd pulls it from the loopback
// registry (hosts.toml), and the registry accepts only the token the plugin got from the
// cloud's fake: the metadata server's access token (gcr), or the token the fake ECR issued
// at the kubelet's exec (ecr).
func TestPrivateImageCloudProviders(t *testing.T) {
	for _, tc := range []struct {
		name string
		host string
		repo string
		// setup starts the cloud's fake and returns the provider entry and the secrets the
		// fake issued so far (the registry must have seen one of them).
		setup func(t *testing.T, reg *harness.Registry) (harness.Provider, func() []string)
	}{
		{
			name: "gcr: token from the fake metadata server",
			host: "gcr.io",
			repo: gcrtest.ProjectID + "/app",
			setup: func(t *testing.T, reg *harness.Registry) (harness.Provider, func() []string) {
				token := "ya29.node-" + harness.RandomString(40)
				md := gcrtest.NewMetadata()
				t.Cleanup(md.Close)
				md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeCloudPlatform}, Token: token})
				if err := reg.AddUser("oauth2accesstoken", token); err != nil {
					t.Fatal(err)
				}
				return harness.NewProvider(harness.GCR, gcr.DefaultRegistries(), map[string]string{"GCE_METADATA_HOST": md.Host()}),
					func() []string { return []string{token} }
			},
		},
		{
			name: "ecr: token issued by the fake ECR",
			host: ecrHost,
			repo: "team/app",
			setup: func(t *testing.T, reg *harness.Registry) (harness.Provider, func() []string) {
				fake := ecrtest.Start(t)
				// The registry accepts each token the fake issues, as ECR does. The kubelet
				// may pull before it is added (a 401, then the kubelet's back-off and a pull
				// with the credentials it cached): the test waits through that.
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					added := map[string]bool{}
					tick := time.NewTicker(10 * time.Millisecond)
					defer tick.Stop()
					for {
						for _, r := range fake.Requests(ecrtest.GetAuthorizationToken) {
							if r.Password != "" && !added[r.Password] {
								added[r.Password] = true
								if err := reg.AddUser("AWS", r.Password); err != nil {
									t.Error(err)
								}
							}
						}
						select {
						case <-stop:
							return
						case <-tick.C:
						}
					}
				}()
				t.Cleanup(func() { close(stop); wg.Wait() })
				env := map[string]string{}
				for _, kv := range fake.Env() {
					k, v, _ := strings.Cut(kv, "=")
					env[k] = v
				}
				issued := func() []string {
					var pw []string
					for _, r := range fake.Requests(ecrtest.GetAuthorizationToken) {
						if r.Password != "" {
							pw = append(pw, r.Password)
						}
					}
					return pw
				}
				return harness.NewProvider(harness.ECR, ecr.MatchImages(), env), issued
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireNode(t)
			ctx := context.Background()
			reg, err := harness.StartRegistry(ctx, harness.RegistryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(reg.Close)
			img, err := busyboxImage(nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := reg.PushImage(ctx, tc.repo, "v1", img); err != nil {
				t.Fatal(err)
			}
			provider, issued := tc.setup(t, reg)
			image := tc.host + "/" + tc.repo + ":v1"
			n := startNode(t, nodeOptions{registry: reg, providers: []harness.Provider{provider}, serve: []string{tc.host}})
			start := time.Now()
			n.pod("private", image, "Always", "echo", "SUCCESS")
			log := n.waitLog("private", "SUCCESS", podTimeout)
			t.Logf("SUCCESS %s after the manifest was written; container log: %s", time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(log))
			carried := 0
			for _, secret := range issued() {
				carried += len(harness.Carrying(reg.Requests(), secret))
			}
			if carried == 0 {
				t.Errorf("the registry saw no request carrying a token the cloud's fake issued (%d issued)", len(issued()))
			}
			if fails := pullFailures(n.klog.String(), image); len(fails) > 0 {
				t.Logf("pulls that failed before (the registry had not yet seen the token):\n%s", strings.Join(fails, "\n"))
			}
		})
	}
}
