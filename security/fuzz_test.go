//go:build linux

package security

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/dockercfg"
	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// FuzzPluginStdin feeds arbitrary stdin to the three plugins in process (providers.Execute,
// what Main runs), with every cloud endpoint at a closed loopback port. Whatever the input:
// no panic; a failure writes nothing on stdout and one line on stderr naming the plugin; a
// success writes one answer the kubelet accepts in the request's apiVersion, whose every key
// matches the requested image (or is Docker Hub's fallback for a Docker Hub image) or, for
// GCR, is one of its patterns.
func FuzzPluginStdin(f *testing.F) {
	for _, r := range hostileRequests {
		if !strings.Contains(r.name, "100 MiB") && !strings.Contains(r.name, "deeply nested") {
			data := new(bytes.Buffer)
			data.ReadFrom(r.stdin())
			f.Add(data.Bytes())
		}
	}
	for _, img := range []string{ecrImage, "public.ecr.aws/a/b", "gcr.io/p/app", "registry.example.io/app", "nginx", "localhost/app"} {
		for _, v := range providers.APIVersions() {
			f.Add([]byte(request(v, img, "", nil)))
		}
	}
	for _, l := range lookalikes[:10] {
		f.Add([]byte(request(providers.APIVersionV1, l.image, "", nil)))
	}
	f.Add([]byte(request(providers.APIVersionV1, ecrImage, saJWT("ns", "sa"), map[string]string{ecr.AnnotationRoleARN: "arn:aws:iam::123456789012:role/x"})))

	for k, v := range newEnv(f) {
		f.Setenv(k, v)
	}
	config := writeDockerConfig(f, nil)
	plugins := []struct {
		plugin func() providers.Plugin
		args   []string
	}{
		{ecr.Plugin, []string{"--cache-dir=", "--max-attempts=1", "--timeout=5s"}},
		{gcr.Plugin, []string{"--cache-dir=", "--metadata-timeout=50ms", "--timeout=5s"}},
		{dockercfg.Plugin, []string{"--config=" + config, "--timeout=5s"}},
	}
	f.Fuzz(func(t *testing.T, stdin []byte) {
		for _, p := range plugins {
			plugin := p.plugin()
			var out, errb bytes.Buffer
			code := providers.Execute(context.Background(), plugin, p.args, bytes.NewReader(stdin), &out, &errb)
			if code != 0 {
				if out.Len() != 0 || strings.Count(errb.String(), "\n") != 1 || !strings.HasPrefix(errb.String(), plugin.Name+": ") {
					t.Fatalf("%s < %q: exit %d, stdout %q, stderr %q; want nothing on stdout and one error line", plugin.Name, stdin, code, out.String(), errb.String())
				}
				continue
			}
			req, apiVersion, _, err := providers.DecodeRequest(stdin)
			if err != nil {
				t.Fatalf("%s < %q: answered a request that does not decode: %v", plugin.Name, stdin, err)
			}
			resp, err := providers.DecodeResponse(out.Bytes(), apiVersion)
			if err != nil {
				t.Fatalf("%s < %q: answer rejected: %v", plugin.Name, stdin, err)
			}
			image, err := keyring.NormalizeImage(req.Image)
			if err != nil {
				t.Fatalf("%s < %q: answered an invalid image: %v", plugin.Name, stdin, err)
			}
			for key := range resp.Auth {
				ok, _ := keyring.Match(key, image)
				hub := key == keyring.DockerHubKey && keyring.Registry(image) == keyring.DockerHub
				if !ok && !hub && plugin.Name != gcr.PluginName {
					t.Fatalf("%s < %q: key %q does not match the image %q", plugin.Name, stdin, key, image)
				}
			}
		}
	})
}
