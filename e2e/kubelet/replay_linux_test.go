package kubelet

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	configv1 "k8s.io/kubelet/config/v1"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	pkplugin "github.com/pullkeys/pullkeys/providers/plugin"
	"github.com/pullkeys/pullkeys/providers/replay/replaytest"
)

// The fronts' replay (providers/replay) through the kubelet's code. A kubelet restarted on
// the same config and bin dir has an empty cache and execs the front again, with the same
// args, environment, working directory and request: the front must replay the answer the
// full plugin saved on the first pull, without running it, as long as the answer's source
// holds, and run it again once it does not.

// replayStep is one pull of a replay scenario's image.
type replayStep struct {
	name    string
	restart bool               // pulled by a kubelet started for it (restartKubelet); false: by this test's kubelet
	change  func(t *testing.T) // done to the node before the pull, or nil
	full    bool               // the front runs its full plugin; false: it replays
	creds   []cred             // nil: the first pull's credentials
}

// replayScenario is a scenario whose one provider is a front, and the runs of its binaries.
type replayScenario struct {
	*scenario
	provider    configv1.CredentialProvider
	front, full string // the front the bin dir links to, and its full plugin next to it
	watch       *replaytest.Watch
}

// newReplayScenario registers p, one of the real binaries (scenario.real), and watches the
// runs of its front and full plugin.
func newReplayScenario(s *scenario, p configv1.CredentialProvider) *replayScenario {
	s.t.Helper()
	front := s.binaries[p.Name]
	full := filepath.Join(filepath.Dir(front), filepath.Base(front)+fullSuffix)
	s.register(nil, p)
	return &replayScenario{scenario: s, provider: p, front: front, full: full, watch: replaytest.WatchRuns(s.t, front, full)}
}

// run pulls image at each step and checks that the kubelet exec'd the front once, that the
// front ran its full plugin or replayed as the step says, the credentials, and that a
// replayed answer's cacheDuration, as the kubelet keeps it, is no longer than the answer's
// before. Then pullkeys check execs the front exactly as the kubelet does (its environment,
// args, working directory and request bytes): it must get the same answer, replayed. It
// returns the pulls.
func (r *replayScenario) run(t *testing.T, image string, steps []replayStep) []*kubeletPull {
	t.Helper()
	var pulls []*kubeletPull
	for i, st := range steps {
		if st.change != nil {
			st.change(t)
		}
		var pull *kubeletPull
		if st.restart {
			pull = r.restartKubelet(image, r.provider.Name)
		} else {
			mark := kubeletLog.Len()
			var err error
			if pull, err = kubeletPullOnce(image, r.provider.Name); err != nil {
				t.Fatalf("%s: kubelet Lookup(%q): %v", st.name, image, err)
			}
			if logged := kubeletLog.Since(mark); strings.Contains(logged, kubeletRejected) {
				t.Errorf("%s: kubelet Lookup(%q): the plugin failed:\n%s", st.name, image, logged)
			}
		}
		pulls = append(pulls, pull)
		if n := r.watch.Take(r.front); n != 1 {
			t.Errorf("%s: kubelet Lookup(%q) ran %s %d times, want 1 (the kubelet's cache must not answer)", st.name, image, r.provider.Name, n)
		}
		wantFull := 0
		if st.full {
			wantFull = 1
		}
		fullRuns := r.watch.Take(r.full)
		if fullRuns != wantFull {
			t.Errorf("%s: kubelet Lookup(%q) ran %s %d times, want %d (1: no answer to replay, 0: replayed)", st.name, image, filepath.Base(r.full), fullRuns, wantFull)
		}
		t.Logf("%s: %s ran %d times; the kubelet caches the answer for %s", st.name, filepath.Base(r.full), fullRuns, pull.CacheDuration)
		want := st.creds
		if want == nil {
			want = pulls[0].Creds
		}
		if len(want) == 0 {
			t.Fatalf("%s: kubelet Lookup(%q) = %v, want credentials", st.name, image, pull.Creds)
		}
		if diff := cmp.Diff(want, pull.Creds); diff != "" {
			t.Errorf("%s: kubelet Lookup(%q) mismatch (-want +got):\n%s", st.name, image, diff)
		}
		if pull.CacheDuration <= 0 {
			t.Errorf("%s: kubelet Lookup(%q): cacheDuration %s, want the answer cached", st.name, image, pull.CacheDuration)
		}
		if prev := pulls[max(i-1, 0)]; i > 0 && !st.full && pull.CacheDuration > prev.CacheDuration {
			t.Errorf("%s: kubelet Lookup(%q): replayed cacheDuration %s, longer than the %s of the answer before", st.name, image, pull.CacheDuration, prev.CacheDuration)
		}
		r.witness(t, st.name, image, pull.Creds)
	}
	return pulls
}

// witness runs pullkeys check for image with the kubelet's environment: it must replay the
// answer the kubelet got, and give the kubelet's credentials.
func (r *replayScenario) witness(t *testing.T, step, image string, kubelet []cred) {
	t.Helper()
	rep, err := pkplugin.Check(context.Background(), pkplugin.CheckOptions{
		ConfigPath: r.configPath, BinDir: r.binDir, Images: []string{image}, ShowSecrets: true,
	})
	if err != nil {
		t.Fatalf("%s: Check(%q): %v", step, image, err)
	}
	if n := r.watch.Take(r.full); n != 0 {
		t.Errorf("%s: Check(%q) with the kubelet's environment ran %s %d times, want 0 (the kubelet's answer replayed)", step, image, filepath.Base(r.full), n)
	}
	r.watch.Take(r.front)
	if diff := cmp.Diff(kubelet, checkCreds(rep.Images[0])); diff != "" {
		t.Errorf("%s: pullkeys check of %s mismatch with the kubelet (-kubelet +check):\n%s\nreport:\n%s", step, image, diff, reportText(t, rep))
	}
}

// TestECRBinaryReplay: a kubelet restarted after a pull gets the ECR front's replay of the
// first answer: no AWS call, no run of ecr-credential-provider-full, the same token, a
// cacheDuration counted down.
func TestECRBinaryReplay(t *testing.T) {
	srv := ecrtest.Start(t)
	srv.Setenv(t)
	s := newScenario(t)
	host := s.ecrHost(0)
	p := s.realECR(t, srv, host)
	r := newReplayScenario(s, p)
	image := host + "/team/app:1"
	got := r.run(t, image, []replayStep{
		{name: "first pull", full: true},
		{name: "kubelet restarted", restart: true},
		{name: "kubelet restarted again", restart: true},
	})
	reqs := srv.Requests(ecrtest.GetAuthorizationToken)
	if len(reqs) != 1 {
		t.Fatalf("%d GetAuthorizationToken calls, want 1 (the restarted kubelets' answers replayed)", len(reqs))
	}
	if diff := cmp.Diff([]cred{{"AWS", reqs[0].Password}}, got[0].Creds); diff != "" {
		t.Errorf("first pull: credentials mismatch with the token the fake issued (-want +got):\n%s", diff)
	}
}

// TestDockercfgBinaryReplay: a kubelet restarted after a pull gets the dockercfg front's
// replay of the first answer while the docker config is unchanged; once it changes, the next
// kubelet gets the new credentials from the full plugin, then their replay.
func TestDockercfgBinaryReplay(t *testing.T) {
	s := newScenario(t)
	host := "reg." + s.domain
	configPath := filepath.Join(t.TempDir(), "config.json")
	login := func(user, password string) func(t *testing.T) {
		return func(t *testing.T) {
			auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
			writeJSON(t, configPath, map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
		}
	}
	login("alice", "pw-1")(t)
	p := s.real(Dockercfg, host)
	p.Args = []string{"--config=" + configPath, "--cache-dir=" + t.TempDir()}
	r := newReplayScenario(s, p)
	r.run(t, s.image("reg", "team/app:1"), []replayStep{
		{name: "first pull", full: true, creds: []cred{{"alice", "pw-1"}}},
		{name: "kubelet restarted", restart: true, creds: []cred{{"alice", "pw-1"}}},
		{name: "docker config changed", restart: true, change: login("alice", "pw-2"), full: true, creds: []cred{{"alice", "pw-2"}}},
		{name: "kubelet restarted after the change", restart: true, creds: []cred{{"alice", "pw-2"}}},
	})
}
