package node

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/kubelet"
)

// noCache is a second entry of dockercfg-credential-provider (its own file name in the bin
// dir) answering with cacheDuration 0, so the kubelet keeps none of its answers.
const noCache = "dockercfg-nocache"

// privateRegistry starts a loopback registry (TLS, one user) with a busybox image under each
// of repos (tag v1, and latest for the first), and a docker config file for it.
func privateRegistry(t *testing.T, repos ...string) (*harness.Registry, harness.Credential, string) {
	t.Helper()
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
	for i, repo := range repos {
		tags := []string{"v1"}
		if i == 0 {
			tags = append(tags, "latest")
		}
		for _, tag := range tags {
			if _, err := reg.PushImage(ctx, repo, tag, img); err != nil {
				t.Fatal(err)
			}
		}
	}
	config := filepath.Join(t.TempDir(), "config.json")
	if err := harness.WriteDockerConfig(config, map[string]harness.Credential{reg.Addr: user}); err != nil {
		t.Fatal(err)
	}
	return reg, user, config
}

// preload pulls image into the node's containerd through CRI with user's credentials, as a
// node image build or `pullkeys prepull` does: the kubelet has no record of pulling it.
func (n *node) preload(image string, user harness.Credential) {
	n.t.Helper()
	if _, err := n.ctrd.Pull(context.Background(), image, &runtimeapi.AuthConfig{Username: user.Username, Password: user.Password}); err != nil {
		n.t.Fatalf("preload %s: %v", image, err)
	}
}

// TestPullPolicyPluginExecs: what each imagePullPolicy costs in plugin execs and registry
// requests on a real kubelet. IfNotPresent with the image on the node (preloaded, or pulled
// earlier by the kubelet with a provider's credentials) runs no plugin and contacts no
// registry; Always, and :latest with no policy (defaulted to Always), pull every start,
// with a plugin exec unless the kubelet's cache holds the answer (cacheDuration 5m here;
// with cacheDuration 0 every start execs). pullkeys' prediction (kubelet.NewPullReport) is
// checked against each decision.
func TestPullPolicyPluginExecs(t *testing.T) {
	requireNode(t)
	reg, user, config := privateRegistry(t, "cached/app", "nocache/app", "present/app")
	n := startNode(t, nodeOptions{
		registry: reg,
		providers: []harness.Provider{
			harness.NewProvider(harness.Dockercfg, []string{reg.Addr + "/cached", reg.Addr + "/present"}, nil, "--config="+config),
			harness.NewProvider(noCache, []string{reg.Addr + "/nocache"}, nil, "--config="+config, "--cache-duration=0"),
		},
		aliases: map[string]string{noCache: harness.Dockercfg},
	})
	n.preload(reg.Addr+"/present/app:v1", user)

	for _, step := range []struct {
		pod, repo, tag, policy string
		// record is how the image came to the node before this pod, for pullkeys'
		// prediction: "" (absent), kubelet.RecordNone (preloaded), kubelet.RecordNode.
		record   string
		decision string // imageDecision of the kubelet's events
		provider string
		execs    int // plugin execs this pod costs
	}{
		{pod: "present-ifnotpresent", repo: "present/app", tag: "v1", policy: kubelet.PullIfNotPresent, record: kubelet.RecordNone, decision: "present", provider: harness.Dockercfg},
		{pod: "always-first", repo: "cached/app", tag: "v1", policy: kubelet.PullAlways, decision: "pulled", provider: harness.Dockercfg, execs: 1},
		{pod: "always-again", repo: "cached/app", tag: "v1", policy: kubelet.PullAlways, record: kubelet.RecordNode, decision: "pulled", provider: harness.Dockercfg},
		{pod: "ifnotpresent-pulled", repo: "cached/app", tag: "v1", policy: kubelet.PullIfNotPresent, record: kubelet.RecordNode, decision: "present", provider: harness.Dockercfg},
		{pod: "latest-no-policy", repo: "cached/app", tag: "latest", record: kubelet.RecordNode, decision: "pulled", provider: harness.Dockercfg},
		{pod: "nocache-first", repo: "nocache/app", tag: "v1", policy: kubelet.PullAlways, decision: "pulled", provider: noCache, execs: 1},
		{pod: "nocache-again", repo: "nocache/app", tag: "v1", policy: kubelet.PullAlways, record: kubelet.RecordNode, decision: "pulled", provider: noCache, execs: 1},
	} {
		image := reg.Addr + "/" + step.repo + ":" + step.tag
		mark, before := len(reg.Requests()), n.execs(step.provider)
		n.pod(step.pod, image, step.policy, "echo", "SUCCESS")
		res := n.waitPod(step.pod, image, "SUCCESS", podTimeout)
		evs := n.events(step.pod)
		got := imageDecision(evs)
		execs := n.execs(step.provider) - before
		all, carrying := manifestRequests(reg, mark, step.repo, user.Password)
		t.Logf("%s (%s, policy %q): kubelet %q, %d exec(s) of %s, %d manifest request(s) (%d with the password); events %v",
			step.pod, image, step.policy, got, execs, step.provider, all, carrying, evs)
		if !strings.Contains(res.containerLog, "SUCCESS") {
			t.Errorf("%s: no SUCCESS in the container's log %q; pull failures:\n%s", step.pod, res.containerLog, strings.Join(res.pullFailures, "\n"))
			continue
		}
		if got != step.decision {
			t.Errorf("%s: the kubelet's decision about %s is %q, want %q (events %v)", step.pod, image, got, step.decision, evs)
		}
		if execs != step.execs {
			t.Errorf("%s: %d exec(s) of %s, want %d", step.pod, execs, step.provider, step.execs)
		}
		switch step.decision {
		case "present":
			if all != 0 {
				t.Errorf("%s: the image was on the node, yet the registry saw %d manifest request(s)", step.pod, all)
			}
		case "pulled":
			if carrying == 0 {
				t.Errorf("%s: the kubelet pulled, but no manifest request carried the provider's password (%d without)", step.pod, all)
			}
		}

		// pullkeys check's prediction for this pod (no kubelet config: the kubelet's defaults).
		report := kubelet.NewPullReport(image, step.policy, nil)
		predicted := "pulled"
		switch step.record {
		case kubelet.RecordNone:
			predicted = decisionOf(report.Verification.Preloaded)
		case kubelet.RecordNode:
			predicted = decisionOf(report.Verification.PulledByKubeletForNode)
		}
		if predicted != step.decision {
			t.Errorf("%s: pullkeys predicts %q (policy %s from %s), the kubelet did %q", step.pod, predicted, report.Policy, report.PolicySource, step.decision)
		}
	}
}

// decisionOf maps a pullkeys outcome for an image on the node to imageDecision's words.
func decisionOf(outcome string) string {
	switch outcome {
	case kubelet.UseImage:
		return "present"
	case kubelet.PullImage:
		return "pulled"
	}
	return outcome
}

// TestPreloadedImageVerification: a pre-pulled private image (pulled through CRI with
// credentials, not by the kubelet) and pods without credentials of their own, under each
// imagePullCredentialsVerificationPolicy with the KubeletEnsureSecretPulledImages gate on.
// Three images: one a provider serves, one no provider serves, one no provider serves but
// allowlisted (preloadedImagesVerificationAllowlist, under NeverVerifyAllowlistedImages).
// Where the policy lets the pod use the image, it starts with no registry contact and no
// plugin exec; where it makes the kubelet verify, the kubelet pulls with what the node's
// providers give: the served image starts (one exec, the password at the registry), the
// others fail with the registry's 401. pullkeys check's prediction for the node's
// KubeletConfiguration must agree with the kubelet.
func TestPreloadedImageVerification(t *testing.T) {
	const (
		provided  = "pre/provided"
		anonymous = "pre/anonymous"
		allowed   = "pre/allowed"
	)
	for _, tc := range []struct {
		policy string
		want   map[string]string // repo → imageDecision
	}{
		{policy: kubelet.NeverVerify, want: map[string]string{provided: "present", anonymous: "present", allowed: "present"}},
		{policy: kubelet.NeverVerifyPreloadedImages, want: map[string]string{provided: "present", anonymous: "present", allowed: "present"}},
		{policy: kubelet.NeverVerifyAllowlistedImages, want: map[string]string{provided: "pulled", anonymous: "failed", allowed: "present"}},
		{policy: kubelet.AlwaysVerify, want: map[string]string{provided: "pulled", anonymous: "failed", allowed: "failed"}},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			requireNode(t)
			reg, user, config := privateRegistry(t, provided, anonymous, allowed)
			extra := "featureGates:\n  KubeletEnsureSecretPulledImages: true\nimagePullCredentialsVerificationPolicy: " + tc.policy + "\n"
			if tc.policy == kubelet.NeverVerifyAllowlistedImages {
				extra += fmt.Sprintf("preloadedImagesVerificationAllowlist:\n- %q\n", reg.Addr+"/"+allowed)
			}
			n := startNode(t, nodeOptions{
				registry:      reg,
				providers:     []harness.Provider{harness.NewProvider(harness.Dockercfg, []string{reg.Addr + "/" + provided}, nil, "--config="+config)},
				kubeletConfig: extra,
			})
			kc, problems := kubelet.LoadKubeletConfig(n.kubeletConfig)
			if err := problems.Err(); err != nil {
				t.Fatalf("pullkeys reads the node's KubeletConfiguration: %v", err)
			}
			repos := []string{provided, anonymous, allowed}
			for _, repo := range repos {
				n.preload(reg.Addr+"/"+repo+":v1", user)
			}
			mark := len(reg.Requests())
			for _, repo := range repos {
				n.pod(podName(repo), reg.Addr+"/"+repo+":v1", kubelet.PullIfNotPresent, "echo", "SUCCESS")
			}
			results := make(map[string]result, len(repos))
			for _, repo := range repos {
				results[repo] = n.waitPod(podName(repo), reg.Addr+"/"+repo+":v1", "SUCCESS", podTimeout)
			}
			for _, repo := range repos {
				image := reg.Addr + "/" + repo + ":v1"
				evs := n.events(podName(repo))
				got := imageDecision(evs)
				all, carrying := manifestRequests(reg, mark, repo, user.Password)
				started := strings.Contains(results[repo].containerLog, "SUCCESS")
				t.Logf("%s: kubelet %q, started %v, %d manifest request(s) (%d with the password); events %v", image, got, started, all, carrying, evs)
				if got != tc.want[repo] {
					t.Errorf("%s under %s: the kubelet's decision is %q, want %q (events %v)", image, tc.policy, got, tc.want[repo], evs)
				}
				if wantStart := got != "failed"; started != wantStart {
					t.Errorf("%s under %s: container started %v, want %v", image, tc.policy, started, wantStart)
				}
				switch got {
				case "present":
					if all != 0 {
						t.Errorf("%s: used from the node, yet the registry saw %d manifest request(s)", image, all)
					}
				case "pulled":
					if carrying == 0 {
						t.Errorf("%s: verified by a pull, but no manifest request carried the provider's password", image)
					}
				case "failed":
					if carrying != 0 || all == 0 {
						t.Errorf("%s: the failed verification made %d manifest request(s), %d with the password; want anonymous ones only", image, all, carrying)
					}
				}
				report := kubelet.NewPullReport(image, kubelet.PullIfNotPresent, kc)
				predicted := decisionOf(report.Verification.Preloaded)
				if predicted == "pulled" && repo != provided {
					predicted = "failed" // pulls anonymously: the registry refuses
				}
				if predicted != got {
					t.Errorf("%s under %s: pullkeys check predicts %q (allowlist entry %q), the kubelet did %q", image, tc.policy, report.Verification.Preloaded, report.Verification.AllowlistEntry, got)
				}
			}
			wantExecs := 0
			if tc.want[provided] == "pulled" {
				wantExecs = 1
			}
			if got := n.execs(harness.Dockercfg); got != wantExecs {
				t.Errorf("under %s: %d exec(s) of %s, want %d", tc.policy, got, harness.Dockercfg, wantExecs)
			}
		})
	}
}

// podName is a static pod name for repo.
func podName(repo string) string { return strings.ReplaceAll(repo, "/", "-") }
