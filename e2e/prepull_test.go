package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/prepull"
	"github.com/pullkeys/pullkeys/pullsecret"
)

// prepullCRI is the containerd of the prepull scenario, stopped by TestMain.
var prepullCRI harness.SharedContainerd

// secretHost is the registry name of the image pulled with a pull Secret, publicHost that of
// the public image, pulled anonymously.
const (
	secretHost = "secret.example.io"
	publicHost = "public.example.io"
)

// manifestRequests counts the requests for manifests the registry saw since mark.
func manifestRequests(reg *harness.Registry, mark int) int {
	n := 0
	for _, r := range reg.Requests()[mark:] {
		if strings.Contains(r.Path, "/manifests/") {
			n++
		}
	}
	return n
}

// TestPrepullThroughContainerd runs `pullkeys prepull` against a real containerd: four
// images from loopback registries, one with the ECR plugin's token (fake ECR), one with a
// docker config credential (dockercfg plugin), one with a pull Secret, and a public one,
// pulled anonymously from a registry without authentication that receives no credential.
// --check first pulls nothing; the pull gets all four; a second run finds them present and
// the registries see no manifest request; a missing image exits 1 with the registry's error.
func TestPrepullThroughContainerd(t *testing.T) {
	c := prepullCRI.Get(t)
	ctx := context.Background()
	fake := ecrtest.Start(t)
	alice := harness.Credential{Username: "alice", Password: harness.RandomString(20)}
	bob := harness.Credential{Username: "bob", Password: harness.RandomString(20)}
	reg := startRegistry(t, harness.RegistryOptions{Hosts: []string{ecrHost, secretHost}, Users: map[string]string{alice.Username: alice.Password, bob.Username: bob.Password}})
	for _, repo := range []string{"team/app", "e2e/app", "e2e/secret"} {
		push(t, reg, repo, "v1")
	}
	if err := c.Serve(reg, reg.Addr, ecrHost, secretHost); err != nil {
		t.Fatal(err)
	}
	// A public image: a registry without authentication, which no provider or Secret serves.
	pub := startRegistry(t, harness.RegistryOptions{Hosts: []string{publicHost}, Anonymous: true})
	push(t, pub, "library/tool", "v1")
	if err := c.Serve(pub, publicHost); err != nil {
		t.Fatal(err)
	}
	dockerConfig := filepath.Join(t.TempDir(), "config.json")
	if err := harness.WriteDockerConfig(dockerConfig, map[string]harness.Credential{reg.Addr: alice}); err != nil {
		t.Fatal(err)
	}
	node := newNode(t, ecrProvider(t, fake), harness.NewProvider(harness.Dockercfg, []string{reg.Addr}, nil, "--config="+dockerConfig))
	secret, err := pullsecret.Create("regcred", "default", []pullsecret.Auth{{Server: secretHost, Username: bob.Username, Password: bob.Password}}, "yaml")
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(t.TempDir(), "secret.yaml")
	writeFile(t, secretFile, secret)

	images := []string{ecrHost + "/team/app:v1", reg.Addr + "/e2e/app:v1", secretHost + "/e2e/secret:v1", publicHost + "/library/tool:v1"}
	imagesFile := filepath.Join(t.TempDir(), "images.txt")
	writeFile(t, imagesFile, []byte(strings.Join(images, "\n")+"\n"))

	// The ECR token: check runs the plugin, which caches the token on disk; the registry
	// accepts it as ECR accepts the tokens it issued.
	check(t, node, images[0])
	if err := reg.AddUser("AWS", issued(t, fake, ecrtest.GetAuthorizationToken)); err != nil {
		t.Fatal(err)
	}

	base := []string{"prepull", "--runtime-endpoint", c.Endpoint, "--config", node.Config, "--bin-dir", node.BinDir, "--pull-secret", secretFile}
	runPrepull := func(args ...string) (int, string, string) {
		t.Helper()
		stdout, stderr, code, err := node.Pullkeys(ctx, nil, append(base, args...)...)
		if err != nil {
			t.Fatalf("pullkeys %q: %v", args, err)
		}
		return code, string(stdout), string(stderr)
	}

	mark, pubMark := len(reg.Requests()), len(pub.Requests())
	code, stdout, stderr := runPrepull("--check", "--images", imagesFile)
	if code != 1 || !strings.Contains(stdout, "0 present, 0 pulled, 4 missing, 0 failed") {
		t.Errorf("prepull --check = %d, want 1 and 4 missing\n%s%s", code, stdout, stderr)
	}
	if n := len(reg.Requests()) - mark + len(pub.Requests()) - pubMark; n != 0 {
		t.Errorf("prepull --check: the registries saw %d request(s), want none", n)
	}

	mark, pubMark = len(reg.Requests()), len(pub.Requests())
	code, stdout, stderr = runPrepull("-o", "json", "--images", imagesFile)
	if n := manifestRequests(reg, mark); n == 0 {
		t.Errorf("prepull: the registry saw no manifest request for three pulls")
	}
	var res struct {
		OK     bool
		Images []prepull.Result
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 0 || !res.OK || len(res.Images) != len(images) {
		t.Fatalf("prepull = %d, %v\n%s%s", code, err, stdout, stderr)
	}
	wantCred := []string{"provider " + harness.ECR, "provider " + harness.Dockercfg, "secret regcred", "anonymous"}
	for i, r := range res.Images {
		if r.Status != prepull.StatusPulled || !strings.HasPrefix(r.Credential, wantCred[i]) || r.ID == "" || r.Size == 0 {
			t.Errorf("prepull %s: %+v; want pulled with %s", images[i], r, wantCred[i])
		}
		img, err := c.ImageStatus(ctx, images[i])
		if err != nil || img == nil || img.Id != r.ID {
			t.Errorf("containerd ImageStatus(%s) = %v, %v; want id %s", images[i], img, err, r.ID)
		}
	}
	for _, s := range []string{alice.Password, bob.Password} {
		if strings.Contains(stdout+stderr, s) {
			t.Errorf("prepull output shows a password")
		}
	}

	for _, r := range pub.Requests()[pubMark:] {
		if r.Auth.Scheme != "" {
			t.Errorf("the public registry received an Authorization header (%s %s): a credential went to a host that did not match", r.Method, r.Path)
		}
	}
	mark, pubMark = len(reg.Requests()), len(pub.Requests())
	code, stdout, stderr = runPrepull("--images", imagesFile)
	if code != 0 || !strings.Contains(stdout, "4 present, 0 pulled, 0 missing, 0 failed") {
		t.Errorf("second prepull = %d, want 0 and 4 present\n%s%s", code, stdout, stderr)
	}
	if n := manifestRequests(reg, mark) + manifestRequests(pub, pubMark); n != 0 {
		t.Errorf("second prepull: the registries saw %d manifest request(s), want none", n)
	}

	missing := reg.Addr + "/e2e/absent:v1"
	code, stdout, stderr = runPrepull(missing)
	if code != 1 || !strings.Contains(stdout, "failed  "+missing+": ") || !strings.Contains(stdout, "not found") {
		t.Errorf("prepull of a missing image = %d, want 1 and the registry's not found\n%s%s", code, stdout, stderr)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
