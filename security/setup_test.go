//go:build linux

package security

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/acr/acrtest"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
)

// plugin is one binary with the args and environment a test runs it with.
type plugin struct {
	name string
	args []string
	env  env
}

func (p plugin) run(t testing.TB, stdin string, extraArgs ...string) outcome {
	t.Helper()
	return run(t, binary(t, p.name), proc{args: append(append([]string(nil), p.args...), extraArgs...), env: p.env.list(), stdin: strings.NewReader(stdin)})
}

// fakes are the cloud fakes of one test, on loopback.
type fakes struct {
	ecr *ecrtest.Server
	md  *gcrtest.Metadata
	acr *acrtest.Fake
}

func startFakes(t testing.TB) *fakes {
	t.Helper()
	f := &fakes{ecr: ecrtest.Start(t), md: gcrtest.NewMetadata(), acr: acrtest.Start(t)}
	t.Cleanup(f.md.Close)
	return f
}

// ecrPlugin runs ecr-credential-provider against the fake (a closed port when f is nil), with
// a cache directory of its own and fast retries.
func ecrPlugin(t testing.TB, f *fakes) plugin {
	e := newEnv(t)
	if f != nil {
		e = e.with(f.ecr.Env()...)
	}
	return plugin{name: ecrBin, env: e, args: []string{"--cache-dir=" + t.TempDir(), "--max-backoff=1ms", "--max-attempts=2"}}
}

// gcrPlugin runs gcr-credential-provider against the metadata fake (a closed port when f is
// nil), with a cache directory of its own.
func gcrPlugin(t testing.TB, f *fakes) plugin {
	e := newEnv(t)
	if f != nil {
		e = e.with("GCE_METADATA_HOST=" + f.md.Host())
	}
	return plugin{name: gcrBin, env: e, args: []string{"--cache-dir=" + t.TempDir(), "--metadata-timeout=2s"}}
}

// dockerConfig is the docker config the dockercfg binary serves in these tests: one entry of
// each kind, for hosts that other tests imitate.
var dockerConfig = []struct{ key, user, pass string }{
	{"registry.example.io", "reg-user", "reg-password-1"},
	{"*.corp.example.io", "corp-user", "corp-password-2"},
	{"gcr.io", "_json_key", "gcr-password-3"},
	{"123456789012.dkr.ecr.us-east-1.amazonaws.com", "AWS", "ecr-password-4"},
	{"public.ecr.aws", "AWS", "public-password-5"},
	{"quay.io/team", "team-user", "quay-password-6"},
	{"https://index.docker.io/v1/", "hub-user", "hub-password-7"},
	{"registry.example.io:5000", "port-user", "port-password-8"},
}

// writeDockerConfig writes dockerConfig as a config.json (auth fields, except one entry with
// username and password) and returns its path.
func writeDockerConfig(t testing.TB, secrets *secretSet) string {
	t.Helper()
	auths := map[string]map[string]string{}
	for i, e := range dockerConfig {
		if i == 1 {
			auths[e.key] = map[string]string{"username": e.user, "password": e.pass}
		} else {
			auths[e.key] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(e.user + ":" + e.pass))}
		}
		if secrets != nil {
			secrets.addUserPass(e.user, e.pass)
		}
	}
	data, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func dockercfgPlugin(t testing.TB, secrets *secretSet) plugin {
	return plugin{name: dockercfgBin, env: newEnv(t), args: []string{"--config=" + writeDockerConfig(t, secrets)}}
}

// allPlugins returns the four plugin binaries set up against f.
func allPlugins(t testing.TB, f *fakes) []plugin {
	var az *acrtest.Fake // nil: closed ports, as for the others
	if f != nil {
		az = f.acr
	}
	return []plugin{ecrPlugin(t, f), gcrPlugin(t, f), acrPlugin(t, az), dockercfgPlugin(t, nil)}
}
