package node

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/e2e/harness"
)

// podTimeout bounds the wait for a pod's result: the kubelet's start, a sandbox, a pull.
const podTimeout = 2 * time.Minute

// TestPrivateImageDockercfg is the Images page's verification on a real node: a pod whose
// image is private (TLS + htpasswd registry on loopback), imagePullPolicy Always, command
// `echo SUCCESS`; the kubelet gets the credentials from dockercfg-credential-provider and
// containerd pulls and runs the image. With a wrong password in the plugin's docker config the
// pod does not start and the kubelet logs its own pull failure.
func TestPrivateImageDockercfg(t *testing.T) {
	for _, tc := range []struct {
		name          string
		wrongPassword bool
	}{
		{name: "right password: the container prints SUCCESS"},
		{name: "wrong password: the kubelet reports the pull failure", wrongPassword: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireNode(t)
			ctx := context.Background()
			user := harness.Credential{Username: "node-user", Password: harness.RandomString(24)}
			reg, err := harness.StartRegistry(ctx, harness.RegistryOptions{Users: map[string]string{user.Username: user.Password}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(reg.Close)
			img, err := busyboxImage(nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := reg.PushImage(ctx, "private/app", "v1", img); err != nil {
				t.Fatal(err)
			}
			image := reg.Addr + "/private/app:v1"

			given := user
			if tc.wrongPassword {
				given.Password = "wrong-" + harness.RandomString(12)
			}
			dockerConfig := filepath.Join(t.TempDir(), "config.json")
			if err := harness.WriteDockerConfig(dockerConfig, map[string]harness.Credential{reg.Addr: given}); err != nil {
				t.Fatal(err)
			}
			n := startNode(t, nodeOptions{
				registry:  reg,
				providers: []harness.Provider{harness.NewProvider(harness.Dockercfg, []string{reg.Addr}, nil, "--config="+dockerConfig)},
			})
			start := time.Now()
			n.pod("private", image, "Always", "echo", "SUCCESS")
			res := n.waitPod("private", image, "SUCCESS", podTimeout)

			if !tc.wrongPassword {
				if !strings.Contains(res.containerLog, "SUCCESS") {
					t.Fatalf("pod private: no SUCCESS in its log %q; the kubelet's pull failures:\n%s", res.containerLog, strings.Join(res.pullFailures, "\n"))
				}
				t.Logf("SUCCESS %s after the manifest was written; container log: %s", time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(res.containerLog))
				if got := harness.Carrying(reg.Requests(), user.Password); len(got) == 0 {
					t.Errorf("the registry saw no request carrying the plugin's password: the image came from elsewhere")
				}
				return
			}
			if strings.Contains(res.containerLog, "SUCCESS") {
				t.Fatalf("pod private ran with a wrong password: log %q", res.containerLog)
			}
			// The kubelet's event (logged at V(3) without an API server) and its pod worker's
			// error: what `kubectl describe pod` and the kubelet's journal show on a cluster.
			for _, want := range []string{`Failed to pull image \"` + image + `\"`, "ErrImagePull", "401 Unauthorized"} {
				if !strings.Contains(strings.Join(res.pullFailures, "\n"), want) {
					t.Errorf("no %q in the kubelet's pull-failure lines:\n%s", want, strings.Join(res.pullFailures, "\n"))
				}
			}
			// What an operator sees in the kubelet's log (the password is not in it).
			for _, l := range res.pullFailures {
				if strings.Contains(l, given.Password) {
					t.Fatalf("the kubelet's log holds the password")
				}
				t.Logf("kubelet: %s", l)
			}
		})
	}
}
