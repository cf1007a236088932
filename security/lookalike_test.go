//go:build linux

package security

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/acr/acrtest"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// lookalike is an image on a host made to pass for one a provider serves.
type lookalike struct {
	imitates string // the provider whose hosts it imitates
	image    string
}

// lookalikes holds at least twenty per provider. None of them is a host any provider (or the
// docker config of dockercfgPlugin) serves, so every binary must give each of them nothing.
var lookalikes = []lookalike{
	// ECR
	{ecrBin, "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io/app"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io:443/app"},
	{ecrBin, "evil.123456789012.dkr.ecr.us-east-1.amazonaws.com/app"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.amazonaws.co/app"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.amazonaws.com.cn.evil.io/app"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.evil-amazonaws.com/app"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.amazonaws-com.io/app"},
	{ecrBin, "123456789012-dkr.ecr.us-east-1.amazonaws.com/app"},
	{ecrBin, "12345678901.dkr.ecr.us-east-1.amazonaws.com/app"},
	{ecrBin, "1234567890123.dkr.ecr.us-east-1.amazonaws.com/app"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000/app"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.amazonaws.com:80/app"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.amazonaws.com./app"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.amazonaws.evil/app"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.on.aws.evil.io/app"},
	{ecrBin, "123456789012.dkr.ecr.cn-north-1.amazonaws.com/app"},
	{ecrBin, "xn--123456789012-7ua.dkr.ecr.us-east-1.amazonaws.com/app"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.xn--amazonaws-5za.com/app"},
	{ecrBin, "api.ecr.us-east-1.amazonaws.com/app"},
	{ecrBin, "public.ecr.aws.evil.io/app"},
	{ecrBin, "x.public.ecr.aws/app"},
	{ecrBin, "publicecr.aws/app"},
	{ecrBin, "public.ecr.aws:8443/app"},
	{ecrBin, "ecr-public.aws.com.evil.io/app"},
	{ecrBin, "evil.io/123456789012.dkr.ecr.us-east-1.amazonaws.com/app"},
	// GCR and Artifact Registry
	{gcrBin, "gcr.io.evil.io/p/app"},
	{gcrBin, "evilgcr.io/p/app"},
	{gcrBin, "gcr.io.evil/p/app"},
	{gcrBin, "us.gcr.io.evil.com/p/app"},
	{gcrBin, "gcr-io.evil.io/p/app"},
	{gcrBin, "a.b.gcr.io/p/app"},
	{gcrBin, "gcr.io:443/p/app"},
	{gcrBin, "gcr.io:5000/p/app"},
	{gcrBin, "gcr.io./p/app"},
	{gcrBin, "GCR.io/p/app"},
	{gcrBin, "xn--gcr-io-9za.io/p/app"},
	{gcrBin, "pkg.dev.evil.io/p/app"},
	{gcrBin, "us-docker.pkg.dev.evil/p/r/app"},
	{gcrBin, "evil-pkg.dev/p/app"},
	{gcrBin, "pkg.dev/p/app"},
	{gcrBin, "us-docker.pkg.dev:443/p/r/app"},
	{gcrBin, "docker.us.rep.pkg.dev.evil.io/p/app"},
	{gcrBin, "docker.rep.pkg.dev/p/app"},
	{gcrBin, "container.cloud.google.com.evil.io/x"},
	{gcrBin, "evilcontainer.cloud.google.com/x"},
	{gcrBin, "cloud.google.com/x"},
	{gcrBin, "evil.com/gcr.io/p/app"},
	{gcrBin, "localhost:5000/gcr.io/p/app"},
	// Azure Container Registry
	{acrBin, "myregistry.azurecr.io.evil.io/app"},
	{acrBin, "myregistry.azurecr.io.cn/app"},
	{acrBin, "evil.myregistry.azurecr.io/app"},
	{acrBin, "azurecr.io/app"},
	{acrBin, "my-registry.azurecr.io/app"},
	{acrBin, "abcd.azurecr.io/app"},
	{acrBin, "a12345678901234567890123456789012345678901234567890.azurecr.io/app"},
	{acrBin, "myregistry.azurecr.de/app"},
	{acrBin, "myregistry.azurecr.com/app"},
	{acrBin, "myregistry.azureacr.io/app"},
	{acrBin, "myregistry-azurecr.io/app"},
	{acrBin, "myregistryazurecr.io/app"},
	{acrBin, "myregistry.azurecr.io:5000/app"},
	{acrBin, "myregistry.azurecr.io./app"},
	{acrBin, "xn--myregistry-9za.azurecr.io/app"},
	{acrBin, "myregistry.xn--azurecr-5za.io/app"},
	{acrBin, "myregistry.eastus.data.azurecr.io/app"},
	{acrBin, "myregistry.azurecr.us.evil.io/app"},
	{acrBin, "myregistry.azurecr.cn.evil.io/app"},
	{acrBin, "evil.io/myregistry.azurecr.io/app"},
	{acrBin, "localhost:5000/myregistry.azurecr.io/app"},
	{acrBin, "mcr.microsoft.com/app"},
	// Docker config keys (see dockerConfig)
	{dockercfgBin, "registry.example.io.evil.io/app"},
	{dockercfgBin, "evilregistry.example.io/app"},
	{dockercfgBin, "registry-example.io/app"},
	{dockercfgBin, "registry.example.io:443/app"},
	{dockercfgBin, "registry.example.io:5001/app"},
	{dockercfgBin, "registry.example.io./app"},
	{dockercfgBin, "xn--registry-8za.example.io/app"},
	{dockercfgBin, "a.b.corp.example.io/app"},
	{dockercfgBin, "corp.example.io/app"},
	{dockercfgBin, "corp.example.io.evil.io/app"},
	{dockercfgBin, "quay.io.evil.io/team/app"},
	{dockercfgBin, "quay.io/other/app"},
	{dockercfgBin, "evil.io/quay.io/team/app"},
	{dockercfgBin, "index.docker.io.evil.io/library/nginx"},
	{dockercfgBin, "docker.io.evil.io/library/nginx"},
	{dockercfgBin, "docker.io:5000/library/nginx"},
	{dockercfgBin, "registry-1.docker.io/library/nginx"},
	{dockercfgBin, "evil.io/docker.io/library/nginx"},
	{dockercfgBin, "localhost/registry.example.io/app"},
	{dockercfgBin, "127.0.0.1:5000/registry.example.io/app"},
}

func TestLookalikeTableHasTwentyPerProvider(t *testing.T) {
	n := map[string]int{}
	for _, l := range lookalikes {
		n[l.imitates]++
	}
	for _, name := range []string{ecrBin, gcrBin, acrBin, dockercfgBin} {
		if n[name] < 20 {
			t.Errorf("lookalikes imitating %s: %d, want at least 20", name, n[name])
		}
	}
}

// TestLookalikeHosts_EveryBinary_NoCredentials runs every lookalike through every binary, with
// working fakes behind them: no binary may answer with a credential (an error, or an empty
// answer from dockercfg, whose "no match" is not an error), and no cloud API may be called.
func TestLookalikeHosts_EveryBinary_NoCredentials(t *testing.T) {
	f := startFakes(t)
	for _, p := range allPlugins(t, f) {
		t.Run(p.name, func(t *testing.T) {
			// Two at a time: the runs are independent, and the suite has a time budget.
			sem := make(chan struct{}, 2)
			var wg sync.WaitGroup
			for _, l := range lookalikes {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					o := p.run(t, request(providers.APIVersionV1, l.image, "", nil))
					what := fmt.Sprintf("%s for %q (imitating %s)", p.name, l.image, l.imitates)
					noPanic(t, what, o)
					if o.code != 0 {
						if o.stdout != "" || strings.Count(o.stderr, "\n") != 1 {
							t.Errorf("%s: exit %d, stdout %q, stderr %q; want nothing on stdout and one error line", what, o.code, o.stdout, o.stderr)
						}
						return
					}
					resp, err := providers.DecodeResponse([]byte(o.stdout), providers.APIVersionV1)
					if err != nil {
						t.Errorf("%s: DecodeResponse(stdout) = %v", what, err)
						return
					}
					if p.name != dockercfgBin || len(resp.Auth) != 0 {
						t.Errorf("%s answered with credentials for %v; want none", what, keysOf(resp.Auth))
					}
				}()
			}
			wg.Wait()
		})
	}
	if reqs := f.ecr.Requests(""); len(reqs) != 0 {
		t.Errorf("the ECR fake saw %d calls for lookalike hosts, want 0: %+v", len(reqs), reqs)
	}
	if n := f.md.TotalCalls(); n != 0 {
		t.Errorf("the metadata fake saw %d calls for lookalike hosts, want 0", n)
	}
	for _, op := range []acrtest.Op{acrtest.IMDSToken, acrtest.AADToken, acrtest.Exchange} {
		if n := f.acr.Counts(op); n != 0 {
			t.Errorf("the Azure fake saw %d %s calls for lookalike hosts, want 0", n, op)
		}
	}
}

func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// matchesAnyLookalike returns a lookalike image that key would hand credentials to.
func matchesAnyLookalike(key string) (string, bool) {
	pattern, err := keyring.NormalizeKey(key)
	if err != nil {
		return "", false
	}
	for _, l := range lookalikes {
		img, err := keyring.NormalizeImage(l.image)
		if err != nil {
			continue // the kubelet never pulls an invalid reference
		}
		if ok, _ := keyring.Match(pattern, img); ok {
			return img, true
		}
	}
	return "", false
}

// TestAuthKeys_NeverBroaderThanTheCredential checks the keys of real answers: the kubelet
// hands a credential to every image whose host a key matches, so a key must not match any
// host the credential is not meant for.
//
//   - ECR: exactly the requested host (the token is for one registry), never a glob.
//   - GCR: exactly the provider's patterns, with a Global cache key. An access token is valid
//     for every Google registry, so listing them all is not broader than the token; each
//     pattern has literal last two labels, and none matches a lookalike.
//   - dockercfg: only keys that match the image (or index.docker.io for a Docker Hub image,
//     the kubelet's own fallback), never the rest of the file.
func TestAuthKeys_NeverBroaderThanTheCredential(t *testing.T) {
	f := startFakes(t)
	check := func(t *testing.T, what string, resp *providers.Response, image string, want []string) {
		t.Helper()
		if diff := cmp.Diff(want, keysOf(resp.Auth)); diff != "" {
			t.Errorf("%s: auth keys mismatch (-want +got):\n%s", what, diff)
		}
		for key := range resp.Auth {
			if img, ok := matchesAnyLookalike(key); ok {
				t.Errorf("%s: key %q matches the lookalike %q", what, key, img)
			}
			norm, _ := keyring.NormalizeImage(image)
			if ok, _ := keyring.Match(key, norm); !ok && !(key == keyring.DockerHubKey && keyring.IsDockerHub(norm)) && !strings.HasPrefix(what, gcrBin) {
				t.Errorf("%s: key %q does not match the image %q", what, key, norm)
			}
		}
	}

	t.Run(ecrBin, func(t *testing.T) {
		p := ecrPlugin(t, f)
		for _, tt := range []struct{ image, host string }{
			{"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app", "123456789012.dkr.ecr.us-east-1.amazonaws.com"},
			{"123456789012.dkr.ecr.us-east-1.amazonaws.com:443/team/app", "123456789012.dkr.ecr.us-east-1.amazonaws.com:443"},
			{"210987654321.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app", "210987654321.dkr.ecr-fips.us-gov-west-1.amazonaws.com"},
			{"123456789012.dkr-ecr.eu-west-1.on.aws/app", "123456789012.dkr-ecr.eu-west-1.on.aws"},
			{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"},
			{"public.ecr.aws/nginx/nginx:latest", "public.ecr.aws"},
			{"ecr-public.aws.com/team/app", "ecr-public.aws.com"},
		} {
			what := ecrBin + " for " + tt.image
			resp := answer(t, what, p.run(t, request(providers.APIVersionV1, tt.image, "", nil)))
			check(t, what, resp, tt.image, []string{tt.host})
			for key := range resp.Auth {
				if strings.ContainsAny(key, "*?[") {
					t.Errorf("%s: key %q is a glob", what, key)
				}
			}
			if resp.CacheKeyType != providers.CacheKeyRegistry {
				t.Errorf("%s: cacheKeyType %q, want Registry", what, resp.CacheKeyType)
			}
		}
	})

	t.Run(acrBin, func(t *testing.T) {
		p := acrPlugin(t, f.acr)
		for _, tt := range []struct{ image, host string }{
			{acrtest.LoginServer + "/team/app", acrtest.LoginServer},
			{acrtest.LoginServer + ":443/team/app", acrtest.LoginServer + ":443"},
			{"PullkeysTest.AzureCR.io/team/app", "PullkeysTest.AzureCR.io"},
		} {
			what := acrBin + " for " + tt.image
			resp := answer(t, what, p.run(t, request(providers.APIVersionV1, tt.image, "", nil)))
			check(t, what, resp, tt.image, []string{tt.host})
			for key := range resp.Auth {
				if strings.ContainsAny(key, "*?[") {
					t.Errorf("%s: key %q is a glob", what, key)
				}
			}
			if resp.CacheKeyType != providers.CacheKeyRegistry {
				t.Errorf("%s: cacheKeyType %q, want Registry", what, resp.CacheKeyType)
			}
		}
	})

	t.Run(gcrBin, func(t *testing.T) {
		p := gcrPlugin(t, f)
		extra := gcrPlugin(t, f)
		extra.args = append(extra.args, "--registry=mirror.example.com")
		for _, tt := range []struct {
			p     plugin
			image string
			want  []string
		}{
			{p, "gcr.io/p/app", gcr.DefaultRegistries()},
			{p, "us-docker.pkg.dev/p/r/app", gcr.DefaultRegistries()},
			{p, "docker.europe-west4.rep.pkg.dev/p/r/app", gcr.DefaultRegistries()},
			{extra, "mirror.example.com/p/app", append(gcr.DefaultRegistries(), "mirror.example.com")},
		} {
			what := gcrBin + " for " + tt.image
			resp := answer(t, what, tt.p.run(t, request(providers.APIVersionV1, tt.image, "", nil)))
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			check(t, what, resp, tt.image, want)
			if resp.CacheKeyType != providers.CacheKeyGlobal {
				t.Errorf("%s: cacheKeyType %q, want Global", what, resp.CacheKeyType)
			}
			norm, _ := keyring.NormalizeImage(tt.image)
			matched := false
			for key := range resp.Auth {
				labels := strings.Split(strings.Split(key, "/")[0], ".")
				if len(labels) < 2 || strings.ContainsAny(strings.Join(labels[len(labels)-2:], "."), "*?[") {
					t.Errorf("%s: key %q has a glob in its last two labels", what, key)
				}
				if ok, _ := keyring.Match(key, norm); ok {
					matched = true
				}
			}
			if !matched {
				t.Errorf("%s: no key matches the image", what)
			}
		}
	})

	t.Run(dockercfgBin, func(t *testing.T) {
		p := dockercfgPlugin(t, nil)
		for _, tt := range []struct {
			image string
			want  []string
		}{
			{"registry.example.io/team/app", []string{"registry.example.io"}},
			{"build.corp.example.io/app", []string{"*.corp.example.io"}},
			{"quay.io/team/app", []string{"quay.io/team"}},
			{"gcr.io/p/app", []string{"gcr.io"}},
			{"registry.example.io:5000/app", []string{"registry.example.io:5000"}},
			{"nginx:1.27", []string{"index.docker.io"}},
			{"docker.io/user/app", []string{"index.docker.io"}},
			{"unrelated.example.org/app", []string{}},
		} {
			what := dockercfgBin + " for " + tt.image
			resp := answer(t, what, p.run(t, request(providers.APIVersionV1, tt.image, "", nil)))
			check(t, what, resp, tt.image, tt.want)
		}
	})
}

// mirrorLookalikes are mirrors made to pass for each binary's registry in a --mirror flag:
// every one must stop the binary at start-up, naming the flag, before any API call.
var mirrorLookalikes = []lookalike{
	{ecrBin, "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io/docker-hub"},
	{ecrBin, "evil.123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.amazonaws.co/docker-hub"},
	{ecrBin, "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000/docker-hub"},
	{ecrBin, "public.ecr.aws.evil.io/docker-hub"},
	{ecrBin, "mirror.corp.example/docker-hub"},
	{gcrBin, "us-docker.pkg.dev.evil.io/p/dockerhub-remote"},
	{gcrBin, "evil-pkg.dev/p/dockerhub-remote"},
	{gcrBin, "gcr.io.evil.io/p/dockerhub"},
	{gcrBin, "us-docker.pkg.dev:443/p/dockerhub-remote"},
	{gcrBin, "mirror.corp.example/dockerhub"},
	{dockercfgBin, "registry.example.io.evil.io/dockerhub"},
	{dockercfgBin, "evilregistry.example.io/dockerhub"},
	{dockercfgBin, "registry.example.io:5001/dockerhub"},
	{dockercfgBin, "corp.example.io/dockerhub"},
	{dockercfgBin, "quay.io/other"},
	{acrBin, acrtest.LoginServer + ".evil.io/dockerhub"},
	{acrBin, "evil." + acrtest.LoginServer + "/dockerhub"},
	{acrBin, "pullkeystest.azurecr.com/dockerhub"},
	{acrBin, "pull.azurecr.io/dockerhub"},
	{acrBin, acrtest.LoginServer + ":5000/dockerhub"},
	{acrBin, "mirror.corp.example/dockerhub"},
}

// goodMirror is, per binary, a mirror the binary serves.
var goodMirror = map[string]string{
	ecrBin:       "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub",
	gcrBin:       "us-docker.pkg.dev/p/dockerhub-remote",
	dockercfgBin: "registry.example.io/dockerhub",
	acrBin:       acrtest.LoginServer + "/dockerhub",
}

// upstreamLookalikes are images made to pass for Docker Hub's: with --mirror docker.io=…, none
// may get the mirror's credential.
var upstreamLookalikes = []string{
	"docker.io.evil.example/library/nginx",
	"index.docker.io.evil.example/library/nginx",
	"evildocker.io/library/nginx",
	"docker.io:5000/library/nginx",
	"docker.io:443/library/nginx",
	"docker.io./library/nginx",
	"registry-1.docker.io.evil.example/library/nginx",
	"evil.example/docker.io/library/nginx",
	"localhost:5000/docker.io/library/nginx",
	"xn--docker-9za.io/library/nginx",
}

func TestLookalikeMirror_RefusedAtStartUp(t *testing.T) {
	f := startFakes(t)
	for _, p := range allPlugins(t, f) {
		t.Run(p.name, func(t *testing.T) {
			for _, l := range mirrorLookalikes {
				if l.imitates != p.name {
					continue
				}
				flag := "--mirror=docker.io=" + l.image
				o := p.run(t, request(providers.APIVersionV1, "nginx", "", nil), flag)
				what := fmt.Sprintf("%s %s", p.name, flag)
				noPanic(t, what, o)
				if o.code == 0 || o.stdout != "" || strings.Count(o.stderr, "\n") != 1 || !strings.Contains(o.stderr, "--mirror docker.io="+l.image) {
					t.Errorf("%s: exit %d, stdout %q, stderr %q; want one error line naming the flag", what, o.code, o.stdout, o.stderr)
				}
			}
		})
	}
	if reqs := f.ecr.Requests(""); len(reqs) != 0 {
		t.Errorf("the ECR fake saw %d calls, want 0", len(reqs))
	}
	if n := f.md.TotalCalls(); n != 0 {
		t.Errorf("the metadata fake saw %d calls, want 0", n)
	}
}

func TestLookalikeUpstream_NoMirrorCredential(t *testing.T) {
	f := startFakes(t)
	for _, p := range allPlugins(t, f) {
		t.Run(p.name, func(t *testing.T) {
			flag := "--mirror=docker.io=" + goodMirror[p.name]
			// The mirror works for the real upstream…
			resp := answer(t, p.name+" for nginx", p.run(t, request(providers.APIVersionV1, "nginx", "", nil), flag))
			if diff := cmp.Diff([]string{"docker.io"}, keysOf(resp.Auth)); diff != "" {
				t.Fatalf("%s %s for nginx: keys (-want +got):\n%s", p.name, flag, diff)
			}
			// …and its credential goes to no lookalike of it.
			for _, image := range upstreamLookalikes {
				o := p.run(t, request(providers.APIVersionV1, image, "", nil), flag)
				what := fmt.Sprintf("%s %s for %q", p.name, flag, image)
				noPanic(t, what, o)
				if o.code != 0 {
					continue
				}
				resp, err := providers.DecodeResponse([]byte(o.stdout), providers.APIVersionV1)
				if err != nil {
					t.Errorf("%s: DecodeResponse(stdout) = %v", what, err)
					continue
				}
				for k, a := range resp.Auth {
					norm, _ := keyring.NormalizeImage(image)
					if ok, _ := keyring.Match(k, norm); ok && a.Password != "" {
						t.Errorf("%s answered a credential under %q for the lookalike", what, k)
					}
				}
			}
		})
	}
}
