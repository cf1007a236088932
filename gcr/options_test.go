package gcr

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAudience(t *testing.T) {
	const name = "projects/123/locations/global/workloadIdentityPools/my-pool/providers/my-provider"
	tests := []struct {
		name     string
		provider string
		want     string
		wantErr  bool
	}{
		{name: "resource name", provider: name, want: "//iam.googleapis.com/" + name},
		{name: "STS audience", provider: "//iam.googleapis.com/" + name, want: "//iam.googleapis.com/" + name},
		{name: "OIDC default audience form", provider: "https://iam.googleapis.com/" + name, want: "//iam.googleapis.com/" + name},
		{name: "project id instead of number", provider: "projects/my-project/locations/global/workloadIdentityPools/my-pool/providers/my-provider", wantErr: true},
		{name: "pool without provider", provider: "projects/123/locations/global/workloadIdentityPools/my-pool", wantErr: true},
		{name: "regional location", provider: "projects/123/locations/us/workloadIdentityPools/p/providers/q", wantErr: true},
		{name: "trailing slash", provider: name + "/", wantErr: true},
		{name: "GKE workload pool", provider: "my-project.svc.id.goog", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := audience(tt.provider)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("audience(%q) = %q, %v, want %q, error %v", tt.provider, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidOption) {
				t.Errorf("audience(%q) error = %v, want ErrInvalidOption", tt.provider, err)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{name: "unknown auth flow", opts: Options{AuthFlow: "metadata"}},
		{name: "service account with a slash", opts: Options{ServiceAccount: "default/../x"}},
		{name: "service account with a query", opts: Options{ServiceAccount: "a@b.com?x=1"}},
		{name: "service account with an escape", opts: Options{ServiceAccount: "a%2F..@b.com"}},
		{name: "negative metadata timeout", opts: Options{MetadataTimeout: -time.Second}},
		{name: "negative download timeout", opts: Options{DockercfgURLTimeout: -time.Second}},
		{name: "negative http timeout", opts: Options{HTTPTimeout: -time.Second}},
		{name: "registry wildcard domain", opts: Options{Registries: []string{"*.dev"}}},
		{name: "bad workload identity provider", opts: Options{WorkloadIdentityProvider: "pool/provider"}},
		{name: "STS over http", opts: Options{STSEndpoint: "http://sts.googleapis.com/v1/token"}},
		{name: "STS with a query", opts: Options{STSEndpoint: "https://sts.googleapis.com/v1/token?x=1"}},
		{name: "IAM over ftp", opts: Options{IAMCredentialsEndpoint: "ftp://iamcredentials.googleapis.com"}},
		{name: "IAM without host", opts: Options{IAMCredentialsEndpoint: "https://"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Cache.NoDisk = true
			if _, err := New(tt.opts); !errors.Is(err, ErrInvalidOption) {
				t.Errorf("New(%+v) = %v, want ErrInvalidOption", tt.opts, err)
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{name: "zero value", opts: Options{}},
		{name: "service account email", opts: Options{ServiceAccount: "node@p.iam.gserviceaccount.com"}},
		{name: "loopback endpoints", opts: Options{STSEndpoint: "http://127.0.0.1:8080/v1/token", IAMCredentialsEndpoint: "http://[::1]:9090/"}},
		{name: "localhost endpoint", opts: Options{STSEndpoint: "http://localhost:8080/v1/token"}},
		{name: "every flow", opts: Options{AuthFlow: FlowDockercfgURL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Cache.NoDisk = true
			if _, err := New(tt.opts); err != nil {
				t.Errorf("New(%+v) = %v", tt.opts, err)
			}
		})
	}
}

func TestAddFlags(t *testing.T) {
	var o Options
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.AddFlags(fs)
	err := fs.Parse([]string{
		"--auth-flow=dockercfg-url",
		"--service-account=robot@p.iam.gserviceaccount.com",
		"--registry=mirror.example.com",
		"--registry=*.corp.example.com/gcr",
		"--metadata-timeout=1s",
		"--workload-identity-provider=projects/1/locations/global/workloadIdentityPools/p/providers/q",
		"--cache-dir=",
	})
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	if o.AuthFlow != FlowDockercfgURL || o.ServiceAccount != "robot@p.iam.gserviceaccount.com" || o.MetadataTimeout != time.Second {
		t.Errorf("flags parsed into %+v", o)
	}
	if diff := cmp.Diff([]string{"mirror.example.com", "*.corp.example.com/gcr"}, o.Registries); diff != "" {
		t.Errorf("--registry mismatch (-want +got):\n%s", diff)
	}
	if o.STSEndpoint != DefaultSTSEndpoint || o.IAMCredentialsEndpoint != DefaultIAMCredentialsEndpoint || o.Cache.Dir != "" {
		t.Errorf("defaults: %+v", o)
	}
}
