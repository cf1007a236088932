//go:build linux

package security

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// The secrets tests run each binary at its highest verbosity (-v=10) through success and every
// failure path a test can provoke, keep everything it wrote on stderr, and then look there for
// every secret the run could have seen: passwords and tokens the fakes issued (and their
// base64, and the base64 "auth" of user:password), the node's secret key, the service account
// token, the passwords of the docker config. The kubelet copies a failing plugin's stderr
// into its log, which many people and systems read.

// saJWT returns an unsigned Kubernetes service account token (a JWT) as the kubelet passes
// it: its claims are read by the ECR provider, its signature is the secret part.
func saJWT(namespace, name string) string {
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{
		"iss": "https://oidc.example/cluster", "sub": "system:serviceaccount:" + namespace + ":" + name,
		"aud": []string{"sts.amazonaws.com"}, "iat": 1700000000, "exp": 1700003600,
		"kubernetes.io": map[string]any{"namespace": namespace, "serviceaccount": map[string]string{"name": name, "uid": "uid-" + name}},
	})
	return enc.EncodeToString([]byte(`{"alg":"RS256","kid":"fake"}`)) + "." + enc.EncodeToString(claims) + "." +
		enc.EncodeToString([]byte("sa-token-signature-"+name+"-that-is-secret"))
}

// addJWT adds a service account token and its signature.
func (s *secretSet) addJWT(token string) {
	s.add(token)
	parts := strings.Split(token, ".")
	s.add(parts[len(parts)-1])
}

// leakRun is one run of a leak test: what it was, and what the binary printed.
type leakRun struct {
	what string
	o    outcome
}

func checkLeaks(t *testing.T, secrets *secretSet, runs []leakRun, wantInSomeStderr string) {
	t.Helper()
	all := ""
	for _, r := range runs {
		noPanic(t, r.what, r.o)
		secrets.check(t, r.what+": stderr", r.o.stderr)
		all += r.o.stderr
		// The set must hold what the answers carry, or it proves nothing.
		if resp, err := providers.DecodeResponse([]byte(r.o.stdout), providers.APIVersionV1); err == nil && len(resp.Auth) > 0 && !secrets.found(r.o.stdout) {
			t.Errorf("%s: no known secret in its answer; the secret set is incomplete", r.what)
		}
	}
	// The test must be looking at real logs, not at an empty stderr.
	if !strings.Contains(all, wantInSomeStderr) {
		t.Fatalf("no run logged %q at -v=10; the test is not seeing the logs:\n%.3000s", wantInSomeStderr, all)
	}
}

func TestSecrets_ECRAtV10_NoSecretOnStderr(t *testing.T) {
	const roleA = "arn:aws:iam::123456789012:role/puller"
	var secrets secretSet
	var runs []leakRun
	srv := ecrtest.Start(t)
	srv.SetPasswordLength(2000) // real ECR passwords are about 2 KiB
	base := newEnv(t).with(srv.Env()...)
	tokenA, tokenB := saJWT("team", "puller"), saJWT("team", "other")
	secrets.addJWT(tokenA)
	secrets.addJWT(tokenB)
	role := map[string]string{ecr.AnnotationECRRoleARN: roleA}

	type step struct {
		name       string
		prepare    func()
		image      string
		token      string
		ann        map[string]string
		args       []string
		sharedDir  bool // use the cache directory of the previous steps (stale tests)
		wantAnswer bool
	}
	dir := t.TempDir()
	inject := func(op ecrtest.Op, f ecrtest.Fault) func() { return func() { srv.Reset(); srv.Inject(op, f, -1) } }
	steps := []step{
		{name: "success, node", prepare: srv.Reset, image: ecrImage, sharedDir: true, wantAnswer: true},
		{name: "success, public", image: "public.ecr.aws/team/app", wantAnswer: true},
		{name: "success, role from the service account", image: ecrImage, token: tokenA, ann: role, wantAnswer: true},
		{name: "stale token served when the API answers a wrongly typed document", prepare: inject(ecrtest.GetAuthorizationToken, ecrtest.WrongType),
			image: ecrImage, args: []string{staleArgs}, sharedDir: true, wantAnswer: true},
		{name: "throttled", prepare: inject(ecrtest.GetAuthorizationToken, ecrtest.Throttle), image: ecrImage, args: []string{"--timeout=2s"}},
		{name: "5xx", prepare: inject(ecrtest.GetAuthorizationToken, ecrtest.ServerError), image: ecrImage},
		{name: "access denied", prepare: inject(ecrtest.GetAuthorizationToken, ecrtest.AccessDenied), image: ecrImage},
		{name: "malformed JSON", prepare: inject(ecrtest.GetAuthorizationToken, ecrtest.Malformed), image: ecrImage},
		{name: "wrongly typed document", prepare: inject(ecrtest.GetAuthorizationToken, ecrtest.WrongType), image: ecrImage},
		{name: "token that does not decode", prepare: inject(ecrtest.GetAuthorizationToken, ecrtest.UndecodableToken), image: ecrImage},
		{name: "no authorization data", prepare: inject(ecrtest.GetAuthorizationToken, ecrtest.NoAuthorizationData), image: ecrImage},
		{name: "public wrongly typed", prepare: inject(ecrtest.PublicGetAuthorizationToken, ecrtest.WrongType), image: "public.ecr.aws/team/app"},
		{name: "STS denies the role", prepare: inject(ecrtest.AssumeRoleWithWebIdentity, ecrtest.AccessDenied), image: ecrImage, token: tokenB, ann: role},
		{name: "STS malformed", prepare: inject(ecrtest.AssumeRoleWithWebIdentity, ecrtest.Malformed), image: ecrImage, token: tokenB, ann: role},
		{name: "STS wrongly typed", prepare: inject(ecrtest.AssumeRoleWithWebIdentity, ecrtest.WrongType), image: ecrImage, token: tokenB, ann: role},
		{name: "invalid role ARN", prepare: srv.Reset, image: ecrImage, token: tokenB, ann: map[string]string{ecr.AnnotationRoleARN: "not-an-arn " + tokenB}},
		{name: "slow API past the deadline", prepare: func() { srv.Reset(); srv.SetLatency(time.Hour) }, image: ecrImage, args: []string{"--timeout=1s"}},
		{name: "lookalike host", prepare: srv.Reset, image: "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io/app", token: tokenB, ann: role},
	}
	var all []ecrtest.Request
	for _, st := range steps {
		if st.prepare != nil {
			all = append(all, srv.Requests("")...)
			st.prepare()
		}
		cacheDir := t.TempDir()
		if st.sharedDir {
			cacheDir = dir
		}
		args := append([]string{"-v=10", "--cache-dir=" + cacheDir, "--max-backoff=1ms", "--max-attempts=2"}, st.args...)
		o := run(t, binary(t, ecrBin), proc{args: args, env: base.list(), stdin: strings.NewReader(request(providers.APIVersionV1, st.image, st.token, st.ann))})
		if (o.code == 0) != st.wantAnswer {
			t.Errorf("%s: exit %d, want success %v; stderr:\n%s", st.name, o.code, st.wantAnswer, o.stderr)
		}
		runs = append(runs, leakRun{ecrBin + " " + st.name, o})
	}
	// A request that is not JSON, holding the token: the decoding error must not quote it.
	bad := strings.Replace(request(providers.APIVersionV1, ecrImage, tokenA, role), tokenA, tokenA+`\q`, 1)
	runs = append(runs, leakRun{ecrBin + " malformed request with a token", run(t, binary(t, ecrBin), proc{args: []string{"-v=10", "--cache-dir=" + t.TempDir()}, env: base.list(), stdin: strings.NewReader(bad)})})

	ecrSecrets(&secrets, append(all, srv.Requests("")...))
	checkLeaks(t, &secrets, runs, "ecr: fetched token")
}

func TestSecrets_GCRAtV10_NoSecretOnStderr(t *testing.T) {
	const (
		nodeToken = "ya29.node-token-that-is-secret"
		wifName   = "projects/123456789012/locations/global/workloadIdentityPools/nodes/providers/cluster-a"
		gsa       = "puller@my-project.iam.gserviceaccount.com"
	)
	var secrets secretSet
	var runs []leakRun
	md := gcrtest.NewMetadata()
	t.Cleanup(md.Close)
	md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeCloudPlatform}, Token: nodeToken})
	front := newMetadataFront(t, md)
	sts := gcrtest.NewSTS("//iam.googleapis.com/" + wifName)
	t.Cleanup(sts.Close)
	iam := gcrtest.NewIAMCredentials()
	t.Cleanup(iam.Close)
	saToken := saJWT("team", "puller")
	sts.Allow(saToken)
	iam.Allow(gcrtest.FederatedToken(saToken), gsa)
	secrets.add(nodeToken, "ya29.leaked-in-a-malformed-document", gcrtest.FederatedToken(saToken), gcrtest.ImpersonatedToken(gcrtest.FederatedToken(saToken), gsa))
	secrets.addJWT(saToken)

	// The docker config of the dockercfg flows, in instance metadata.
	cfgUser, cfgPass := "meta-user", "meta-password-that-is-secret"
	secrets.addUserPass(cfgUser, cfgPass)
	goodCfg := fmt.Sprintf(`{"auths":{"gcr.io":{"auth":%q},"us-docker.pkg.dev":{"auth":"not base64 %s"}}}`,
		base64.StdEncoding.EncodeToString([]byte(cfgUser+":"+cfgPass)), cfgPass)
	badCfg := fmt.Sprintf(`{"auths":{"gcr.io":{"password":"%s\q"}}}`, cfgPass)

	base := newEnv(t).with("GCE_METADATA_HOST=" + front.host())
	wif := []string{"--workload-identity-provider=" + wifName, "--sts-endpoint=" + sts.URL(), "--iam-credentials-endpoint=" + iam.URL()}
	dir := t.TempDir()
	type step struct {
		name       string
		prepare    func()
		image      string
		token      string
		ann        map[string]string
		args       []string
		sharedDir  bool
		wantAnswer bool
	}
	reset := func() {
		front.set("")
		md.SetScopes("default", gcrtest.ScopeCloudPlatform)
		sts.Fail(0, 0)
		iam.Fail(0, 0)
	}
	steps := []step{
		{name: "success, node token", image: "gcr.io/p/app", sharedDir: true, wantAnswer: true},
		{name: "stale token when the metadata server fails", prepare: func() { front.set("5xx") }, image: "gcr.io/p/app",
			args: []string{staleArgs, "--metadata-timeout=500ms"}, sharedDir: true, wantAnswer: true},
		{name: "metadata server 5xx", prepare: func() { front.set("5xx") }, image: "gcr.io/p/app", args: []string{"--metadata-timeout=500ms"}},
		{name: "metadata server slow", prepare: func() { front.set("hang") }, image: "gcr.io/p/app", args: []string{"--metadata-timeout=300ms"}},
		{name: "malformed token document", prepare: func() { reset(); front.set("malformed-token") }, image: "gcr.io/p/app"},
		{name: "not a GCE metadata server", prepare: func() { front.set("not-flavored") }, image: "gcr.io/p/app"},
		{name: "missing scope", prepare: func() { reset(); md.SetScopes("default", gcrtest.ScopeLoggingWrite) }, image: "gcr.io/p/app"},
		{name: "workload identity, impersonated", prepare: reset, image: "us-docker.pkg.dev/p/r/app", token: saToken, ann: map[string]string{gcr.AnnotationGSA: gsa}, args: wif, wantAnswer: true},
		{name: "workload identity, federated", image: "us-docker.pkg.dev/p/r/app", token: saToken, args: wif, wantAnswer: true},
		{name: "workload identity, STS fails", prepare: func() { sts.Fail(http.StatusInternalServerError, -1) }, image: "gcr.io/p/app", token: saToken, args: wif},
		{name: "workload identity, impersonation denied", prepare: reset, image: "gcr.io/p/app", token: saToken, ann: map[string]string{gcr.AnnotationGSA: "other@p.iam.gserviceaccount.com"}, args: wif},
		{name: "workload identity, not configured", image: "gcr.io/p/app", token: saToken},
		{name: "dockercfg flow", prepare: func() { md.SetAttribute("google-dockercfg", goodCfg) }, image: "gcr.io/p/app", args: []string{"--auth-flow=dockercfg"}, wantAnswer: true},
		{name: "dockercfg flow, malformed document", prepare: func() { md.SetAttribute("google-dockercfg", badCfg) }, image: "gcr.io/p/app", args: []string{"--auth-flow=dockercfg"}},
		{name: "lookalike host", image: "gcr.io.evil.io/p/app", token: saToken, args: wif},
	}
	for _, st := range steps {
		if st.prepare != nil {
			st.prepare()
		}
		cacheDir := t.TempDir()
		if st.sharedDir {
			cacheDir = dir
		}
		args := append([]string{"-v=10", "--cache-dir=" + cacheDir, "--http-timeout=2s"}, st.args...)
		o := run(t, binary(t, gcrBin), proc{args: args, env: base.list(), stdin: strings.NewReader(request(providers.APIVersionV1, st.image, st.token, st.ann))})
		if (o.code == 0) != st.wantAnswer {
			t.Errorf("%s: exit %d, want success %v; stderr:\n%s", st.name, o.code, st.wantAnswer, o.stderr)
		}
		runs = append(runs, leakRun{gcrBin + " " + st.name, o})
	}
	for _, tok := range md.Issued() {
		secrets.add(tok)
	}
	checkLeaks(t, &secrets, runs, "gcr: node token")
}

func TestSecrets_DockercfgAtV10_NoSecretOnStderr(t *testing.T) {
	var secrets secretSet
	var runs []leakRun
	good := writeDockerConfig(t, &secrets)
	dir := t.TempDir()
	write := func(name, doc string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const hidden = "hunter2-that-is-secret"
	secrets.addUserPass("bad-user", hidden)
	secrets.add("identity-token-that-is-secret", "key-password-that-is-secret")
	odd := write("odd.json", fmt.Sprintf(`{"auths":{
		"bad-auth.example.io":{"auth":"bad-user:%s"},
		"no-colon.example.io":{"auth":%q},
		"token.example.io":{"identitytoken":"identity-token-that-is-secret"},
		"https://user:key-password-that-is-secret@userinfo.example.io":{"username":"u","password":"p-that-is-long"},
		"%%zz-key-password-that-is-secret@x":{"username":"u","password":"p-that-is-long"}
	},"credHelpers":{"helper.example.io":"pullkeys-absent-helper"}}`, hidden, base64.StdEncoding.EncodeToString([]byte(hidden))))
	secrets.add("p-that-is-long")
	malformed := write("malformed.json", fmt.Sprintf(`{"auths":{"registry.example.io":{"password":"%s\q"}}}`, hidden))
	truncated := write("truncated.json", fmt.Sprintf(`{"auths":{"registry.example.io":{"auth":"%s`, base64.StdEncoding.EncodeToString([]byte("bad-user:"+hidden))))
	wrongType := write("wrongtype.json", `{"auths":{"registry.example.io":{"password":424242424242}}}`)
	secrets.add("424242424242")
	world := write("world.json", `{"auths":{"registry.example.io":{"username":"u","password":"p-that-is-long"}}}`)
	os.Chmod(world, 0o644)

	for _, st := range []struct {
		name, config, image string
		wantAnswer          bool
	}{
		{"success, static", good, "registry.example.io/app", true},
		{"success, glob", good, "build.corp.example.io/app", true},
		{"success, Docker Hub", good, "nginx", true},
		{"no match", good, "unrelated.example.org/app", true},
		{"entries with bad auth, identity token, user info in keys", odd, "token.example.io/app", true},
		{"user info in the key", odd, "userinfo.example.io/app", true},
		{"missing credential helper", odd, "helper.example.io/app", false},
		{"malformed file", malformed, "registry.example.io/app", false},
		{"truncated file", truncated, "registry.example.io/app", false},
		{"number where a password goes: entry skipped", wrongType, "registry.example.io/app", true},
		{"world-readable file", world, "registry.example.io/app", true},
	} {
		o := run(t, binary(t, dockercfgBin), proc{args: []string{"-v=10", "--config=" + st.config}, env: newEnv(t).list(), stdin: strings.NewReader(request(providers.APIVersionV1, st.image, "", nil))})
		if (o.code == 0) != st.wantAnswer {
			t.Errorf("%s: exit %d, want success %v; stderr:\n%s", st.name, o.code, st.wantAnswer, o.stderr)
		}
		runs = append(runs, leakRun{dockercfgBin + " " + st.name, o})
	}
	checkLeaks(t, &secrets, runs, "credential from docker config")
}
