package node

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/e2e/harness"
)

// TestMirrorNode: containerd's hosts.toml sends docker.io to a mirror (the loopback
// registry, under /v2/dockerhub) that requires credentials; the pod's image is on the
// upstream name, docker.io/library/mirrored:v1. dockercfg-credential-provider --mirror
// answers the mirror's credential keyed for docker.io, having checked containerd's own hosts
// directory: the kubelet hands it to containerd, containerd pulls from the mirror and the
// container prints SUCCESS. Then the hosts.toml gains a fallback to an upstream stand-in:
// the plugin refuses to answer (the kubelet logs why), the kubelet pulls anonymously, the
// pod does not start, and neither host receives the password.
func TestMirrorNode(t *testing.T) {
	requireNode(t)
	reg, user, config := privateRegistry(t, "dockerhub/library/mirrored")
	upstream, err := harness.StartRecorder(harness.RecorderOptions{CA: reg.CA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(upstream.Close)

	var ctrd *harness.Containerd
	var ca string
	mirrorURL := "https://" + reg.Addr + "/v2/dockerhub"
	n := startNode(t, nodeOptions{
		registry: reg,
		configure: func(c *harness.Containerd) []harness.Provider {
			ctrd = c
			if ca, err = c.WriteCA(reg.CA); err != nil {
				t.Fatal(err)
			}
			// The mirror is both the only host and the server: nothing falls back to docker.io.
			if _, err := c.WriteHostsFile("docker.io", []byte(fmt.Sprintf("server = %q\noverride_path = true\nca = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n  ca = %q\n",
				mirrorURL, ca, mirrorURL, ca))); err != nil {
				t.Fatal(err)
			}
			// cacheDuration 0: the kubelet asks again at each pull, so the second pod sees
			// the plugin's answer to the changed hosts.toml (with a cacheDuration the kubelet
			// would reuse the first answer until it expires).
			return []harness.Provider{harness.NewProvider(harness.Dockercfg, []string{"docker.io"}, nil,
				"--config="+config, "--mirror=docker.io="+reg.Addr+"/dockerhub", "--containerd-hosts-dir="+c.HostsDir, "--cache-duration=0")}
		},
	})
	const image = "docker.io/library/mirrored:v1"

	mark := len(reg.Requests())
	n.pod("mirrored", image, "Always", "echo", "SUCCESS")
	res := n.waitPod("mirrored", image, "SUCCESS", podTimeout)
	if !strings.Contains(res.containerLog, "SUCCESS") {
		t.Fatalf("pod mirrored: no SUCCESS in its log %q; the kubelet's pull failures:\n%s", res.containerLog, strings.Join(res.pullFailures, "\n"))
	}
	all, carrying := manifestRequests(reg, mark, "dockerhub/library/mirrored", user.Password)
	t.Logf("mirrored: SUCCESS; %d manifest request(s) at the mirror, %d with the password; events %v", all, carrying, n.events("mirrored"))
	if carrying == 0 {
		t.Errorf("the mirror saw no manifest request carrying the password")
	}
	if got := n.execs(harness.Dockercfg); got != 1 {
		t.Errorf("%d exec(s) of %s, want 1", got, harness.Dockercfg)
	}

	// A fallback to the upstream: containerd would hand the credential to it whenever the
	// mirror fails, so the plugin answers nothing.
	unsafe := fmt.Sprintf("server = %q\nca = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n  ca = %q\n",
		"https://"+upstream.Addr, ca, mirrorURL, ca)
	if _, err := ctrd.WriteHostsFile("docker.io", []byte(unsafe)); err != nil {
		t.Fatal(err)
	}
	mark = len(reg.Requests())
	n.pod("fallback", image, "Always", "echo", "SUCCESS")
	res = n.waitPod("fallback", image, "SUCCESS", podTimeout)
	if strings.Contains(res.containerLog, "SUCCESS") {
		t.Fatalf("pod fallback started: the kubelet had credentials for a hosts.toml that leaks them")
	}
	// The kubelet logs the plugin's error (its stderr) as a multi-line value: err=< … >.
	refusal, provide := "", []string{}
	lines := strings.Split(n.klog.String(), "\n")
	for i, l := range lines {
		if !strings.Contains(l, "Failed to provide credentials for image") {
			continue
		}
		entry := l
		for j := i + 1; j < len(lines) && (strings.HasPrefix(lines[j], "\t") || strings.HasPrefix(lines[j], " >")); j++ {
			entry += "\n" + lines[j]
		}
		provide = append(provide, entry)
		if strings.Contains(entry, "refusing to answer for docker.io") {
			refusal = entry
		}
	}
	// Failed execs are not cached: the kubelet runs the plugin again at each retry of the pod.
	if got := n.execs(harness.Dockercfg); got < 2 {
		t.Errorf("%d exec(s) of %s in all, want the first pod's and at least one for the second", got, harness.Dockercfg)
	}
	if refusal == "" {
		t.Errorf("the kubelet's log has no line with the plugin's refusal; its lines about providers:\n%s\nits pull failures:\n%s", strings.Join(provide, "\n"), strings.Join(res.pullFailures, "\n"))
	} else {
		t.Logf("kubelet: %s", refusal)
	}
	if _, carrying := manifestRequests(reg, mark, "dockerhub/library/mirrored", user.Password); carrying != 0 {
		t.Errorf("the mirror received the password after the plugin refused")
	}
	if got := harness.Carrying(upstream.Requests(), user.Password); len(got) != 0 {
		t.Errorf("the upstream stand-in received the password: %v", got)
	}
	t.Logf("fallback: the pod did not start; the upstream stand-in saw %d request(s), none with the password; events %v", len(upstream.Requests()), n.events("fallback"))
}
