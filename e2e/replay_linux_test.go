package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/providers/replay/replaytest"
)

// The fronts' replay (providers/replay) end to end: each pullkeys check execs the provider's
// front as the kubelet does, a new process with the same args, environment, working directory
// and request; the second gets the answer the full plugin saved on the first, without running
// it, and the registry accepts those credentials for a real pull. When the answer's source
// changes, the front runs the full plugin again.

// replayStep is one pullkeys check of a replay test's image, then a pull with its
// credentials.
type replayStep struct {
	name   string
	change func(t *testing.T) // done to the node and the registry before the check, or nil
	full   bool               // the front runs its full plugin; false: it replays
	want   []harness.Credential
}

// checkReplays checks image at each step with node, whose provider front is one of the
// binaries TestMain built, and pulls it from reg with the credentials. It checks that the
// front ran once per check and its full plugin as the step says, and the credentials: the
// step's, or the first check's when the step has none. before, when not nil, is given the
// credentials of each check before the pull (to open the registry to a token). It returns the
// credentials of each step.
func checkReplays(t *testing.T, node harness.Node, reg *harness.Registry, front, image string, before func(t *testing.T, creds []harness.Credential), steps []replayStep) [][]harness.Credential {
	t.Helper()
	frontPath := filepath.Join(binDir, front)
	fullPath := filepath.Join(binDir, front+harness.FullSuffix)
	w := replaytest.WatchRuns(t, frontPath, fullPath)
	var got [][]harness.Credential
	for _, st := range steps {
		if st.change != nil {
			st.change(t)
		}
		img := check(t, node, image)
		creds := credentials(img)
		got = append(got, creds)
		if n := w.Take(frontPath); n != 1 {
			t.Errorf("%s: Check(%q) ran %s %d times, want 1", st.name, image, front, n)
		}
		wantFull := 0
		if st.full {
			wantFull = 1
		}
		if n := w.Take(fullPath); n != wantFull {
			t.Errorf("%s: Check(%q) ran %s %d times, want %d (1: no answer to replay, 0: replayed)", st.name, image, front+harness.FullSuffix, n, wantFull)
		}
		want := st.want
		if want == nil {
			want = got[0]
		}
		if len(want) == 0 {
			t.Fatalf("%s: Check(%q) = %s, want credentials", st.name, image, describe(img))
		}
		if diff := cmp.Diff(want, creds); diff != "" {
			t.Errorf("%s: Check(%q) credentials (-want +got):\n%s", st.name, image, diff)
		}
		if before != nil {
			before(t, creds)
		}
		if _, _, err := reg.PullWithAny(context.Background(), image, creds); err != nil {
			t.Errorf("%s: Pull(%q) with the credentials of Check = %v", st.name, image, err)
		}
	}
	return got
}

// TestDockercfgReplay: the second check's credentials are the dockercfg front's replay and
// pull; after `docker login` with a new password (the registry's htpasswd and the docker
// config both changed), the stale answer is no longer replayed: the full plugin gives the new
// password, which pulls, and which is then replayed in turn.
func TestDockercfgReplay(t *testing.T) {
	f := newDockercfgFixture(t)
	node := newNode(t, f.provider())
	renewed := harness.Credential{Username: f.user.Username, Password: harness.RandomString(20)}
	changePassword := func(t *testing.T) {
		if err := f.reg.AddUser(renewed.Username, renewed.Password); err != nil {
			t.Fatal(err)
		}
		if err := harness.WriteDockerConfig(f.config, map[string]harness.Credential{f.reg.Addr: renewed}); err != nil {
			t.Fatal(err)
		}
		// The replayed answer would now fail the pull.
		if _, err := f.reg.Pull(context.Background(), f.image, &f.user); !harness.IsUnauthorized(err) {
			t.Fatalf("Pull(%q) with the old password after the change = %v, want 401", f.image, err)
		}
	}
	checkReplays(t, node, f.reg, harness.Dockercfg, f.image, nil, []replayStep{
		{name: "first check", full: true, want: []harness.Credential{f.user}},
		{name: "second check", want: []harness.Credential{f.user}},
		{name: "password changed", change: changePassword, full: true, want: []harness.Credential{renewed}},
		{name: "check after the change", want: []harness.Credential{renewed}},
	})
}

// TestECRReplay: the second check's credentials are the ECR front's replay of the fake's
// token, with no AWS call, and pull.
func TestECRReplay(t *testing.T) {
	fake := ecrtest.Start(t)
	reg := startRegistry(t, harness.RegistryOptions{Hosts: []string{ecrHost}})
	push(t, reg, "team/app", "v1")
	node := newNode(t, ecrProvider(t, fake))
	image := ecrHost + "/team/app:v1"
	openRegistry := func(t *testing.T, creds []harness.Credential) {
		for _, c := range creds {
			if err := reg.AddUser(c.Username, c.Password); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := checkReplays(t, node, reg, harness.ECR, image, openRegistry, []replayStep{
		{name: "first check", full: true},
		{name: "second check"},
	})
	if n := fake.Calls(ecrtest.GetAuthorizationToken); n != 1 {
		t.Errorf("fake ECR got %d GetAuthorizationToken calls for two checks, want 1", n)
	}
	want := []harness.Credential{{Username: "AWS", Password: issued(t, fake, ecrtest.GetAuthorizationToken)}}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("first check: credentials mismatch with the fake's token (-want +got):\n%s", diff)
	}
}
