package ecr

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// redirectClient sends every request, whatever its host, to the TLS server at addr: the SDK
// resolves its real endpoints and the fake records which one it chose, without any request
// leaving loopback.
func redirectClient(addr string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the fake's certificate is for 127.0.0.1
	}}
}

// TestEndpoints checks the API endpoint the SDK is pointed at for each form of host, with no
// endpoint override: the registry's region and partition, FIPS for FIPS hosts, dual-stack for
// dual-stack hosts, ECR Public in us-east-1, and STS in the registry's region.
func TestEndpoints(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL_ECR_PUBLIC", "AWS_ENDPOINT_URL_STS"} {
		t.Setenv(name, "")
	}
	fake := ecrtest.NewHandler(ecrtest.Options{Now: e.clock.Now})
	tlsSrv := httptest.NewTLSServer(fake)
	t.Cleanup(tlsSrv.Close)
	p := e.provider(Options{HTTPClient: redirectClient(tlsSrv.Listener.Addr().String())})
	role := map[string]string{AnnotationECRRoleARN: "arn:aws:iam::123456789012:role/pull"}

	for _, tc := range []struct {
		name    string
		image   string
		role    bool
		want    string // the ECR or ECR Public endpoint host
		wantSTS string
	}{
		{name: "aws", image: "123456789012.dkr.ecr.us-west-2.amazonaws.com/a", want: "api.ecr.us-west-2.amazonaws.com"},
		{name: "aws fips", image: "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/a", want: "api.ecr-fips.us-east-1.amazonaws.com"},
		{name: "aws dual-stack", image: "123456789012.dkr-ecr.eu-west-1.on.aws/a", want: "ecr.eu-west-1.api.aws"},
		{name: "aws dual-stack fips", image: "123456789012.dkr-ecr-fips.us-east-2.on.aws/a", want: "ecr-fips.us-east-2.api.aws"},
		{name: "govcloud fips", image: "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/a", want: "api.ecr-fips.us-gov-west-1.amazonaws.com"},
		{name: "china", image: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/a", want: "api.ecr.cn-north-1.amazonaws.com.cn"},
		{name: "european sovereign cloud", image: "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu/a", want: "api.ecr.eusc-de-east-1.amazonaws.eu"},
		{name: "iso", image: "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov/a", want: "api.ecr.us-iso-east-1.c2s.ic.gov"},
		{name: "iso-b", image: "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov/a", want: "api.ecr.us-isob-east-1.sc2s.sgov.gov"},
		{name: "public", image: "public.ecr.aws/a/b", want: "api.ecr-public.us-east-1.amazonaws.com"},
		{name: "role in the registry's region", image: "123456789012.dkr.ecr.eu-central-1.amazonaws.com/a", role: true,
			want: "api.ecr.eu-central-1.amazonaws.com", wantSTS: "sts.eu-central-1.amazonaws.com"},
		{name: "role for public", image: "public.ecr.aws/a/b", role: true,
			want: "api.ecr-public.us-east-1.amazonaws.com", wantSTS: "sts.us-east-1.amazonaws.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.Reset()
			req := &providers.Request{Image: tc.image}
			if tc.role {
				req.ServiceAccountToken = saToken("ns", "sa-"+tc.name, "uid", 1)
				req.ServiceAccountAnnotations = role
			}
			if _, err := p.Provide(context.Background(), req); err != nil {
				t.Fatalf("Provide(%q) error: %v", tc.image, err)
			}
			var got, gotSTS []string
			for _, r := range fake.Requests("") {
				if r.Op == ecrtest.AssumeRoleWithWebIdentity {
					gotSTS = append(gotSTS, r.Host)
				} else {
					got = append(got, r.Host)
				}
			}
			want, wantSTS := []string{tc.want}, []string(nil)
			if tc.wantSTS != "" {
				wantSTS = []string{tc.wantSTS}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Provide(%q): API endpoints (-want +got):\n%s", tc.image, diff)
			}
			if diff := cmp.Diff(wantSTS, gotSTS); diff != "" {
				t.Errorf("Provide(%q): STS endpoints (-want +got):\n%s", tc.image, diff)
			}
		})
	}
}
