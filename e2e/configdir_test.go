package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
)

// TestConfigDirectory: recent kubelets read a directory of configs (*.json, *.yaml, *.yml in
// lexical order, merged); a node with one file per plugin works as one file would, and the
// providers keep the order of the files.
func TestConfigDirectory(t *testing.T) {
	ctx := context.Background()
	f := newDockercfgFixture(t, "gcr.io")
	gcrToken := "ya29.e2e-" + harness.RandomString(40)
	md := startMetadata(t, gcrToken)
	if err := f.reg.AddUser(gcrUser, gcrToken); err != nil {
		t.Fatal(err)
	}
	push(t, f.reg, gcrtest.ProjectID+"/app", "v1")

	node := newNode(t, f.provider()) // then replaced by a directory
	dir := filepath.Join(filepath.Dir(node.Config), "credential-providers.d")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// 20-gcr.yaml sorts after 10-dockercfg.yaml; README.md is not a config and is ignored.
	if err := harness.WriteConfig(filepath.Join(dir, "20-gcr.yaml"), gcrProvider(t, md)); err != nil {
		t.Fatal(err)
	}
	if err := harness.WriteConfig(filepath.Join(dir, "10-dockercfg.yaml"), f.provider()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	node.Config = dir
	validate(t, node)

	onGCR := "gcr.io/" + gcrtest.ProjectID + "/app:v1"
	report, err := node.Check(ctx, f.image, onGCR)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "10-dockercfg.yaml"), filepath.Join(dir, "20-gcr.yaml")}
	if diff := cmp.Diff(want, report.Files); diff != "" {
		t.Errorf("Check() read files (-want +got):\n%s", diff)
	}
	for _, image := range []string{f.image, onGCR} {
		img, err := harness.ImageOf(report, image)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range img.Providers {
			names = append(names, p.Name)
		}
		if diff := cmp.Diff([]string{harness.Dockercfg, harness.GCR}, names); diff != "" {
			t.Errorf("Check(%q) providers in order (-want +got):\n%s", image, diff)
		}
		if _, _, err := f.reg.PullWithAny(ctx, image, credentials(img)); err != nil {
			t.Errorf("Pull(%q) = %v (%s)", image, err, describe(img))
		}
	}
}
