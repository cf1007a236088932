package demo

import (
	"context"
	"fmt"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/kubelet"
)

// pullCRI pulls each image again the way a node does, when containerd can run here: a
// containerd of the demo's own (temporary root, own socket, stopped at the end), reached
// with the kubelet's CRI client; for each image one PullImage without credentials (refused
// with the registry's 401), then one PullImage per credential, in the order pullkeys check
// gave them, until one succeeds, as the kubelet does. It returns the phrase naming the
// runtime for the summary ("" when containerd did not run).
func (d *demo) pullCRI(ctx context.Context, images []image, creds [][]harness.Credential) (string, error) {
	if why := harness.ContainerdUnavailable(""); why != "" {
		d.title("pull through containerd: skipped")
		d.say("%s.", why)
		d.say("Install it (apt-get install containerd runc) and run the demo as root to see the runtime pull too.")
		return "", nil
	}
	d.title("pull each image through containerd, as the kubelet does (client: containerd via CRI)")
	c, err := harness.StartContainerd(ctx, harness.ContainerdOptions{})
	if err != nil {
		return "", err
	}
	d.cleanup = append(d.cleanup, func() { _ = c.Close() })
	d.say("containerd %s on %s (its own root and state in %s; native snapshotter, no CNI)", c.Version, c.Endpoint, c.Dir)
	hosts := make([]string, 0, len(images))
	for _, img := range images {
		hosts = append(hosts, registryHost(img.ref))
	}
	if err := c.Serve(d.reg, hosts...); err != nil {
		return "", err
	}
	d.say("hosts.toml in %s: each image's registry name is served by https://%s, with the demo's CA in `ca = …`:", c.HostsDir, d.reg.Addr)
	d.indent(harness.Hosts{Server: "https://" + d.reg.Addr, CA: "<ca.pem>"}.TOML())
	for i, img := range images {
		d.say("")
		d.say("%s", img.ref)
		if _, err := c.Pull(ctx, img.ref, nil); err == nil || !strings.Contains(err.Error(), "401 Unauthorized") {
			return "", fmt.Errorf("%w: CRI PullImage %s without credentials: want the registry's 401, got %v", ErrDemo, img.ref, err)
		}
		d.say("  PullImage without AuthConfig:  refused, 401 Unauthorized")
		var pulledWith = -1
		var errs []string
		for j, cr := range creds[i] {
			if _, err := c.Pull(ctx, img.ref, &runtimeapi.AuthConfig{Username: cr.Username, Password: cr.Password}); err != nil {
				errs = append(errs, err.Error())
				continue
			}
			pulledWith = j
			break
		}
		if pulledWith < 0 {
			return "", fmt.Errorf("%w: CRI PullImage %s with the credentials of pullkeys check: %s", ErrDemo, img.ref, strings.Join(errs, "; "))
		}
		st, err := c.ImageStatus(ctx, img.ref)
		if err != nil || st == nil {
			return "", fmt.Errorf("%w: CRI ImageStatus %s after the pull: %v", ErrDemo, img.ref, err)
		}
		repo := strings.TrimSuffix(img.ref, ":v1")
		var digest string
		for _, rd := range st.RepoDigests {
			if strings.HasPrefix(rd, repo+"@") {
				digest = rd
			}
		}
		if digest == "" {
			return "", fmt.Errorf("%w: CRI ImageStatus %s lists no digest for %s: %v", ErrDemo, img.ref, repo, st.RepoDigests)
		}
		cr := creds[i][pulledWith]
		d.say("  PullImage with AuthConfig{username %q, password %s}: pulled and unpacked", cr.Username, kubelet.Mask(cr.Password))
		d.say("    ImageStatus: %s (%d bytes)", digest, st.Size)
	}
	return fmt.Sprintf(" and containerd %s through the CRI", c.Version), nil
}

// registryHost is the registry part of an image reference.
func registryHost(ref string) string {
	host, _, _ := strings.Cut(ref, "/")
	return host
}
