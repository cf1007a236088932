//go:build linux

package security

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/acr"
	"github.com/pullkeys/pullkeys/acr/acrtest"
	"github.com/pullkeys/pullkeys/providers"
)

const (
	acrHost  = acrtest.LoginServer
	acrImage = acrHost + "/team/app"
	// The tests' AAD applications.
	acrSPClient = "33333333-3333-3333-3333-333333333333"
	acrSPSecret = "sp-client-secret-that-is-secret"
	acrWIClient = "44444444-4444-4444-4444-444444444444"
)

// acrPlugin runs acr-credential-provider against the Azure fake (closed ports when f is nil:
// newEnv points IMDS and AAD there), with a cache directory of its own and quick retries.
func acrPlugin(t testing.TB, f *acrtest.Fake) plugin {
	e := newEnv(t)
	args := []string{"--cache-dir=" + t.TempDir(), "--imds-timeout=3s", "--http-timeout=3s", "--max-retries=1"}
	if f != nil {
		env, err := f.Env()
		if err != nil {
			t.Fatal(err)
		}
		e = e.with(env...)
		args = append(args, f.Args()...)
	}
	return plugin{name: acrBin, env: e, args: args}
}

// acrConfig writes a cloud config with the fake's service principal.
func acrConfig(t testing.TB, f *acrtest.Fake) string {
	f.AddApp(acrtest.App{ClientID: acrSPClient, Tenant: acrtest.Tenant, Secret: acrSPSecret})
	name := filepath.Join(t.TempDir(), "azure.json")
	data := `{"cloud":"AzurePublicCloud","tenantId":"` + acrtest.Tenant + `","aadClientId":"` + acrSPClient + `","aadClientSecret":"` + acrSPSecret + `"}`
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestACRFaults is the fault matrix of acr-credential-provider. Registry exchange faults run
// cold (a clear error) and stale (the previous refresh token, not cached by the kubelet); IMDS
// and AAD faults run cold only, since with a stale cache the plugin still holds an AAD token it
// can exchange anew.
func TestACRFaults(t *testing.T) {
	fail := func(op acrtest.Op, status int, body string) func(*testing.T, *acrtest.Fake) {
		return func(_ *testing.T, f *acrtest.Fake) { f.Fail(op, status, body, -1) }
	}
	exchangeRows := []faultRow[*acrtest.Fake]{
		{name: "exchange 401", inject: fail(acrtest.Exchange, http.StatusUnauthorized, `{"errors":[{"code":"UNAUTHORIZED","message":"`+acrSPSecret+`"}]}`), want: "registry token exchange failed at " + acrHost + ": HTTP 401"},
		{name: "exchange 500", inject: fail(acrtest.Exchange, http.StatusInternalServerError, `{}`), want: "HTTP 500"},
		{name: "exchange slow", args: []string{"--http-timeout=500ms"}, inject: func(_ *testing.T, f *acrtest.Fake) { f.Block(acrtest.Exchange) }, want: "no answer within 500ms"},
	}
	setup := func(t *testing.T) (plugin, *acrtest.Fake) {
		f := acrtest.Start(t)
		return acrPlugin(t, f), f
	}
	runFaultRows(t, exchangeRows, setup, acrImage, func(r *providers.Response) string { return r.Auth[acrHost].Password })

	coldRows := []struct {
		name   string
		sp     bool // the node has a service principal, else the managed identity
		args   []string
		inject func(f *acrtest.Fake, p *plugin)
		want   string
	}{
		{name: "IMDS absent (not an Azure VM)", inject: func(f *acrtest.Fake, p *plugin) {
			p.env = p.env.with("AZURE_POD_IDENTITY_AUTHORITY_HOST=http://" + closedAddr(t))
		}, want: "instance metadata service unreachable"},
		{name: "IMDS slow", args: []string{"--imds-timeout=500ms"}, inject: func(f *acrtest.Fake, _ *plugin) { f.Block(acrtest.IMDSToken) }, want: "no answer within 500ms (is this an Azure VM?"},
		{name: "IMDS slow beyond the plugin deadline", args: []string{"--imds-timeout=10m", "--timeout=3s"}, inject: func(f *acrtest.Fake, _ *plugin) { f.Block(acrtest.IMDSToken) }, want: "no answer within"},
		{name: "IMDS 500", inject: func(f *acrtest.Fake, _ *plugin) {
			f.Fail(acrtest.IMDSToken, http.StatusInternalServerError, `{"error":"server_error"}`, -1)
		}, want: "HTTP 500 server_error"},
		{name: "IMDS without the identity", args: []string{"--user-assigned-identity-id=99999999-9999-9999-9999-999999999999"}, inject: func(*acrtest.Fake, *plugin) {}, want: "IMDS does not know the identity"},
		{name: "AAD wrong secret", sp: true, inject: func(f *acrtest.Fake, _ *plugin) {
			f.AddApp(acrtest.App{ClientID: acrSPClient, Tenant: acrtest.Tenant, Secret: "another-secret"})
		}, want: "invalid_client AADSTS7000215"},
		{name: "AAD 503", sp: true, inject: func(f *acrtest.Fake, _ *plugin) {
			f.Fail(acrtest.AADToken, http.StatusServiceUnavailable, `{"error":"temporarily_unavailable","error_description":"`+acrSPSecret+`"}`, -1)
		}, want: "HTTP 503"},
		{name: "AAD unreachable", sp: true, inject: func(f *acrtest.Fake, p *plugin) {
			p.env = p.env.with("AZURE_AUTHORITY_HOST=https://" + closedAddr(t) + "/")
		}, want: "AAD token request failed"},
	}
	for _, row := range coldRows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			f := acrtest.Start(t)
			p := acrPlugin(t, f)
			if row.sp {
				p.args = append(p.args, "--cloud-config="+acrConfig(t, f))
			}
			row.inject(f, &p)
			o := p.run(t, request(providers.APIVersionV1, acrImage, "", nil), row.args...)
			failure(t, acrBin+" "+row.name, acrBin, o, row.want)
			if strings.Contains(o.stderr, acrSPSecret) {
				t.Errorf("%s: stderr holds the client secret", row.name)
			}
		})
	}
}

// TestSecrets_ACRAtV10_NoSecretOnStderr runs acr-credential-provider at -v=10 through its
// identities and failures and looks on stderr for every secret: the client secret, the AAD and
// IMDS tokens and refresh tokens the fake issued, the service account token.
func TestSecrets_ACRAtV10_NoSecretOnStderr(t *testing.T) {
	f := acrtest.Start(t)
	var secrets secretSet
	var runs []leakRun
	cfg := acrConfig(t, f)
	sa := saJWT("team", "puller")
	f.AddApp(acrtest.App{ClientID: acrWIClient, Tenant: acrtest.Tenant, Subjects: []string{"system:serviceaccount:team:puller"}})
	secrets.add(acrSPSecret)
	secrets.addJWT(sa)
	wi := map[string]string{acr.AnnotationClientID: acrWIClient, acr.AnnotationTenantID: acrtest.Tenant}
	dir := t.TempDir()
	steps := []struct {
		name       string
		prepare    func()
		token      string
		ann        map[string]string
		args       []string
		shared     bool
		wantAnswer bool
	}{
		{name: "managed identity", shared: true, wantAnswer: true},
		{name: "service principal", args: []string{"--cloud-config=" + cfg}, wantAnswer: true},
		{name: "workload identity", token: sa, ann: wi, wantAnswer: true},
		{name: "workload identity refused", token: saJWT("team", "other"), ann: wi},
		{name: "stale refresh token when the exchange fails", prepare: func() { f.Fail(acrtest.Exchange, http.StatusInternalServerError, `{}`, -1) }, args: []string{staleArgs}, shared: true, wantAnswer: true},
		{name: "exchange 401 echoing the secret", prepare: func() {
			f.Fail(acrtest.Exchange, http.StatusUnauthorized, `{"errors":[{"message":"`+acrSPSecret+`"}]}`, -1)
		}, args: []string{"--cloud-config=" + cfg}},
		{name: "AAD error echoing the secret", prepare: func() {
			f.Fail(acrtest.Exchange, 0, "", 0)
			f.Fail(acrtest.AADToken, http.StatusBadRequest, `{"error":"invalid_request","error_description":"`+acrSPSecret+`","error_codes":[90014]}`, -1)
		}, args: []string{"--cloud-config=" + cfg}},
		{name: "lookalike host", token: sa, ann: wi},
	}
	for _, st := range steps {
		if st.prepare != nil {
			st.prepare()
		}
		p := acrPlugin(t, f)
		if st.shared {
			p.args = append(p.args, "--cache-dir="+dir)
		}
		image := acrImage
		if st.name == "lookalike host" {
			image = "myregistry.azurecr.io.evil.io/app"
		}
		o := p.run(t, request(providers.APIVersionV1, image, st.token, st.ann), append([]string{"-v=10"}, st.args...)...)
		if (o.code == 0) != st.wantAnswer {
			t.Errorf("%s: exit %d, want success %v; stderr:\n%s", st.name, o.code, st.wantAnswer, o.stderr)
		}
		runs = append(runs, leakRun{acrBin + " " + st.name, o})
	}
	for _, op := range []acrtest.Op{acrtest.IMDSToken, acrtest.AADToken, acrtest.Exchange} {
		for _, r := range f.Requests(op) {
			if r.Issued != "" {
				secrets.addJWT(r.Issued)
			}
		}
	}
	checkLeaks(t, &secrets, runs, "acr: refresh token")
}
