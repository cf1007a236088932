// Package demo is `make demo`: the whole chain of a node pulling private images, on loopback,
// narrated for a person. It builds the plugins and pullkeys, starts a real registry (TLS,
// htpasswd) that stands in for a private registry, Amazon ECR, Google Container Registry and
// Azure Container Registry, starts the fake ECR, GCE metadata and Azure servers, writes the kubelet's credential provider
// config, runs `pullkeys check` as an operator would, and pulls each image with the
// credentials it printed. It needs no network and no cloud account, and removes everything it
// made when it ends.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pullkeys/pullkeys/acr"
	"github.com/pullkeys/pullkeys/acr/acrtest"
	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/kubelet"
)

// Options configure Run.
type Options struct {
	// Out receives the narration; nil means os.Stdout.
	Out io.Writer
	// BinDir holds binaries built already; empty means build them into a temporary directory.
	BinDir string
	// Root is the main module's directory; empty means found from the working directory.
	Root string
}

// ErrDemo is wrapped by the error of a step that did not go as the demo says it should.
var ErrDemo = errors.New("demo failed")

// The names the loopback registry answers for, besides its own 127.0.0.1:<port>.
const (
	ecrHost = ecrtest.DefaultAccount + ".dkr.ecr.us-east-1.amazonaws.com"
	gcrHost = "gcr.io"
)

type demo struct {
	out       io.Writer
	dir       string
	binDir    string
	node      harness.Node
	providers []harness.Provider
	reg       *harness.Registry
	ecr       *ecrtest.Server
	azure     *acrtest.Fake
	step      int
	cleanup   []func()
}

// Run runs the demo and returns nil when every step did what it says.
func Run(ctx context.Context, opts Options) (err error) {
	d := &demo{out: opts.Out}
	if d.out == nil {
		d.out = os.Stdout
	}
	defer func() {
		for i := len(d.cleanup) - 1; i >= 0; i-- {
			d.cleanup[i]()
		}
		if d.dir != "" {
			d.say("cleaned up: stopped the registry and the fake cloud servers, removed %s", d.dir)
		}
	}()
	d.say("pullkeys demo: a node pulling private images, on loopback only (no network, no cloud account).")
	if d.dir, err = os.MkdirTemp("", "pullkeys-demo-"); err != nil {
		return err
	}
	d.cleanup = append(d.cleanup, func() { os.RemoveAll(d.dir) })

	if err := d.build(ctx, opts); err != nil {
		return err
	}
	images, err := d.start(ctx)
	if err != nil {
		return err
	}
	if err := d.writeConfig(); err != nil {
		return err
	}
	if err := d.check(ctx, images); err != nil {
		return err
	}
	creds, err := d.pull(ctx, images)
	if err != nil {
		return err
	}
	runtime, err := d.pullCRI(ctx, images, creds)
	if err != nil {
		return err
	}
	d.title("done")
	d.say("Each image pulled with the credentials its plugin returned, and none pulled without them.")
	d.say("Pulled by: the demo's registry client (go-containerregistry)%s.", runtime)
	d.say("Next: docs/pullkeys.md (the command), docs/e2e.md (this chain as a test suite).")
	return nil
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

func (d *demo) title(s string) {
	d.step++
	fmt.Fprintf(d.out, "\n== %d. %s\n", d.step, s)
}

// indent writes text indented, for output of commands and files.
func (d *demo) indent(text []byte) {
	for _, l := range strings.Split(strings.TrimRight(string(text), "\n"), "\n") {
		fmt.Fprintf(d.out, "    %s\n", l)
	}
}

func (d *demo) build(ctx context.Context, opts Options) error {
	d.title("build the plugins and pullkeys")
	if opts.BinDir != "" {
		d.binDir = opts.BinDir
		d.say("using the binaries in %s", d.binDir)
	} else {
		root := opts.Root
		if root == "" {
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			if root, err = harness.ModuleRoot(wd); err != nil {
				return err
			}
		}
		d.binDir = filepath.Join(d.dir, "bin")
		d.say("go build -o %s/ ./cmd/...   (in %s; the first build takes a minute)", d.binDir, root)
		if err := harness.Build(ctx, root, d.binDir); err != nil {
			return err
		}
	}
	names, err := harness.Binaries(d.binDir)
	if err != nil {
		return err
	}
	d.say("built: %s", strings.Join(names, ", "))
	return nil
}

type image struct {
	what string // for the narration
	ref  string // as a pod spec names it
}

func (d *demo) start(ctx context.Context) ([]image, error) {
	d.title("start the fake cloud services and a real registry on 127.0.0.1")
	fake, err := ecrtest.NewServer(ecrtest.Options{})
	if err != nil {
		return nil, err
	}
	d.cleanup = append(d.cleanup, fake.Close)
	d.ecr = fake
	d.say("fake AWS (ECR, ECR Public, STS)  %s   the real AWS SDK in the plugin talks to it", fake.URL())

	gcrToken := "ya29.demo-" + harness.RandomString(32)
	md := gcrtest.NewMetadata()
	d.cleanup = append(d.cleanup, md.Close)
	md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeCloudPlatform}, Token: gcrToken})
	d.say("fake GCE metadata server          %s   serves the node service account's access token", md.URL())

	az := acrtest.New()
	d.cleanup = append(d.cleanup, az.Close)
	d.azure = az
	d.say("fake Azure (IMDS, AAD, ACR exchange)  %s  %s  %s", az.IMDSURL(), az.AAD.URL, az.RegistryURL())
	d.say("  the VM's managed identity token from IMDS, exchanged for a refresh token of the registry")

	alice := harness.Credential{Username: "alice", Password: harness.RandomString(20)}
	reg, err := harness.StartRegistry(ctx, harness.RegistryOptions{
		Hosts: []string{ecrHost, gcrHost, acrtest.LoginServer},
		Users: map[string]string{alice.Username: alice.Password, "oauth2accesstoken": gcrToken},
	})
	if err != nil {
		return nil, err
	}
	d.cleanup = append(d.cleanup, reg.Close)
	d.reg = reg
	d.say("registry (distribution, TLS, htpasswd)  https://%s", reg.Addr)
	d.say("  It stands in for four registries: your own (%s), ECR (%s), GCR (%s) and ACR (%s);", reg.Addr, ecrHost, gcrHost, acrtest.LoginServer)
	d.say("  the demo's registry client dials 127.0.0.1 for all four names and trusts the demo's own CA.")
	d.say("  Accounts: alice (a docker login), oauth2accesstoken with the metadata server's token, and")
	d.say("  AWS with whatever token the fake ECR issues, and %s with the refresh token the fake", acr.Username)
	d.say("  ACR exchange issues (each added once issued).")

	images := []image{
		{what: "your private registry, credentials from a docker config file", ref: reg.Addr + "/demo/app:v1"},
		{what: "Amazon ECR, credentials from the ECR API", ref: ecrHost + "/team/app:v1"},
		{what: "Google Container Registry, credentials from the GCE metadata server", ref: gcrHost + "/" + gcrtest.ProjectID + "/app:v1"},
		{what: "Azure Container Registry, a refresh token for the VM's managed identity", ref: acrtest.LoginServer + "/team/app:v1"},
	}
	for _, repo := range []string{"demo/app", "team/app", gcrtest.ProjectID + "/app"} {
		digest, err := reg.Push(ctx, repo, "v1")
		if err != nil {
			return nil, err
		}
		d.say("pushed %s:v1 (%s)", repo, digest)
	}

	dockerConfig := filepath.Join(d.dir, "docker", "config.json")
	if err := os.MkdirAll(filepath.Dir(dockerConfig), 0o700); err != nil {
		return nil, err
	}
	if err := harness.WriteDockerConfig(dockerConfig, map[string]harness.Credential{reg.Addr: alice}); err != nil {
		return nil, err
	}
	cacheDir := filepath.Join(d.dir, "cache")
	home := filepath.Join(d.dir, "home")
	for _, dir := range []string{cacheDir, home} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	ecrEnv := map[string]string{}
	for _, kv := range fake.Env() {
		k, v, _ := strings.Cut(kv, "=")
		ecrEnv[k] = v
	}
	d.node = harness.Node{
		Config: filepath.Join(d.dir, "credential-provider-config.yaml"),
		BinDir: d.binDir,
		// The kubelet's environment, which plugins inherit: nothing of yours.
		Environ: []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TMPDIR=" + d.dir,
			"PULLKEYS_CACHE_DIR=" + cacheDir}, // never the node's own
	}
	azEnv := map[string]string{}
	envList, err := az.Env()
	if err != nil {
		return nil, err
	}
	for _, kv := range envList {
		k, v, _ := strings.Cut(kv, "=")
		azEnv[k] = v
	}
	d.providers = []harness.Provider{
		harness.NewProvider(harness.Dockercfg, []string{reg.Addr}, nil, "--config="+dockerConfig),
		// ecr.MatchImages() lists every partition and form; these two are what most nodes need.
		harness.NewProvider(harness.ECR, []string{"*.dkr.ecr.*.amazonaws.com", ecr.PublicHost}, ecrEnv, "--cache-dir="+cacheDir),
		harness.NewProvider(harness.GCR, gcr.DefaultRegistries(), map[string]string{"GCE_METADATA_HOST": md.Host()}, "--cache-dir="+cacheDir),
		harness.NewProvider(harness.ACR, acr.MatchImages(), azEnv, append(az.Args(), "--cache-dir="+cacheDir)...),
	}
	return images, nil
}

func (d *demo) writeConfig() error {
	d.title("write the kubelet's credential provider config")
	data, err := harness.ConfigYAML(d.providers...)
	if err != nil {
		return err
	}
	if err := os.WriteFile(d.node.Config, data, 0o600); err != nil {
		return err
	}
	d.say("%s (the kubelet's --image-credential-provider-config; --image-credential-provider-bin-dir=%s):", d.node.Config, d.binDir)
	d.indent(data)
	d.say("The env entries point each plugin's real cloud client at the fakes; on a node you leave them out.")
	return nil
}

func (d *demo) check(ctx context.Context, images []image) error {
	d.title("pullkeys check: what the kubelet does before each pull")
	args := []string{"check", "--config", d.node.Config, "--bin-dir", d.node.BinDir}
	for _, img := range images {
		args = append(args, img.ref)
	}
	d.say("$ pullkeys %s", strings.Join(args, " "))
	stdout, stderr, code, err := d.node.Pullkeys(ctx, nil, args...)
	if err != nil {
		return err
	}
	d.indent(stdout)
	if len(stderr) > 0 {
		d.indent(stderr)
	}
	if code != 0 {
		return fmt.Errorf("%w: pullkeys check exited %d", ErrDemo, code)
	}
	d.say("Passwords are masked; --show-secrets shows them, -o json prints the same for a machine.")
	return nil
}

func (d *demo) pull(ctx context.Context, images []image) ([][]harness.Credential, error) {
	d.title("pull each image with the credentials pullkeys check returned (client: go-containerregistry)")
	refs := make([]string, len(images))
	for i, img := range images {
		refs[i] = img.ref
	}
	calls := d.ecr.Calls(ecrtest.GetAuthorizationToken)
	res, err := d.node.CheckBinary(ctx, nil, refs...)
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 || res.Report == nil {
		return nil, fmt.Errorf("%w: pullkeys check -o json --show-secrets exited %d: %s", ErrDemo, res.ExitCode, bytes.TrimSpace(res.Stderr))
	}
	d.say("$ pullkeys check -o json --show-secrets …   (the same check, read by the demo's registry client)")
	if after := d.ecr.Calls(ecrtest.GetAuthorizationToken); after == calls {
		d.say("The ECR plugin answered this second run from its cache: the fake ECR saw no new call.")
	}
	if tokens := d.ecr.Requests(ecrtest.GetAuthorizationToken); len(tokens) > 0 {
		// ECR accepts the tokens it issued; so does the registry standing in for it.
		if err := d.reg.AddUser("AWS", tokens[len(tokens)-1].Password); err != nil {
			return nil, err
		}
	}
	if ex := d.azure.Requests(acrtest.Exchange); len(ex) > 0 && ex[len(ex)-1].Issued != "" {
		// ACR accepts the refresh tokens it issued; so does the registry standing in for it.
		if err := d.reg.AddUser(acr.Username, ex[len(ex)-1].Issued); err != nil {
			return nil, err
		}
	}
	all := make([][]harness.Credential, len(images))
	for i, img := range images {
		d.say("")
		d.say("%s — %s", img.ref, img.what)
		if _, err := d.reg.Pull(ctx, img.ref, nil); !harness.IsUnauthorized(err) {
			return nil, fmt.Errorf("%w: pull %s without credentials: want 401 Unauthorized, got %v", ErrDemo, img.ref, err)
		}
		d.say("  without credentials:  401 Unauthorized, as the kubelet would get after a plugin failure")
		rep, err := harness.ImageOf(res.Report, img.ref)
		if err != nil {
			return nil, err
		}
		if len(rep.Credentials) == 0 {
			return nil, fmt.Errorf("%w: pullkeys check returned no credentials for %s", ErrDemo, img.ref)
		}
		creds := make([]harness.Credential, len(rep.Credentials))
		for i, c := range rep.Credentials {
			creds[i] = harness.Credential{Username: c.Username, Password: c.Password}
		}
		all[i] = creds
		used, pulled, err := d.reg.PullWithAny(ctx, img.ref, creds)
		if err != nil {
			return nil, fmt.Errorf("%w: pull %s with the credentials of pullkeys check: %v", ErrDemo, img.ref, err)
		}
		c := rep.Credentials[used]
		d.say("  with %s's credential (username %q, password %s):", c.Provider, c.Username, kubelet.Mask(creds[used].Password))
		d.say("    pulled manifest %s and %d layers (%d bytes), every digest checked", pulled.Digest, pulled.Layers, pulled.Bytes)
	}
	return all, nil
}
