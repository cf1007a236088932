package acr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/acr"
	"github.com/pullkeys/pullkeys/acr/acrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// TestPluginDropIn runs the binary's front end as the kubelet would with the Azure plugin's
// config entries: the cloud config as the positional argument, before or after flags, and
// the Azure plugin's other flags, which are accepted with a one-line warning.
func TestPluginDropIn(t *testing.T) {
	f := start(t)
	cfg := writeConfig(t, map[string]any{"cloud": "AzurePublicCloud", "tenantId": acrtest.Tenant, "useManagedIdentityExtension": true, "aadClientId": "msi", "aadClientSecret": "msi"})
	t.Setenv(acr.EnvIMDSEndpoint, f.IMDSURL())
	common := []string{"--exchange-endpoint=" + f.RegistryHTTP.URL, "--cache-dir=" + t.TempDir()}
	tests := []struct {
		name     string
		args     []string
		wantWarn []string // each on its own line of stderr
	}{
		{name: "AKS entry: the cloud config alone", args: []string{cfg}},
		{name: "cloud config after flags", args: []string{"--max-retries=1", cfg}},
		{name: "registry mirror", args: []string{cfg, "--registry-mirror=mcr.microsoft.com:pullkeystest.azurecr.io"}},
		{name: "registry mirror shorthand", args: []string{"-r", "mcr.microsoft.com:pullkeystest.azurecr.io", cfg}},
		{name: "malformed mirror", args: []string{cfg, "--registry-mirror=nonsense"}, wantWarn: []string{"is not <source host>:<login server>"}},
		{name: "identity binding flags", args: []string{cfg, "--ib-sni-name=x.example", "--ib-apiserver-ip=10.0.0.1"}, wantWarn: []string{"flag --ib-sni-name ignored", "flag --ib-apiserver-ip ignored"}},
		{name: "klog flags", args: []string{cfg, "--v=2", "--vmodule=x=4", "--log-flush-frequency=5s"}, wantWarn: []string{"flag --vmodule ignored"}},
		{name: "--cloud-config", args: []string{"--cloud-config=" + cfg}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			in := strings.NewReader(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"pullkeystest.azurecr.io/team/app"}`)
			code := providers.Execute(context.Background(), acr.Plugin(), append(append([]string{}, tt.args...), common...), in, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
			}
			var resp struct {
				CacheKeyType string
				Auth         map[string]struct{ Username, Password string }
			}
			if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
				t.Fatalf("stdout is not a response: %v\n%s", err, stdout.String())
			}
			if a := resp.Auth[acrtest.LoginServer]; a.Username != acr.Username || a.Password == "" || resp.CacheKeyType != "Registry" {
				t.Errorf("response = %+v, want a refresh token for %s keyed by Registry", resp, acrtest.LoginServer)
			}
			for _, w := range tt.wantWarn {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr.String())
				}
			}
			if len(tt.wantWarn) == 0 && strings.Contains(stderr.String(), "level=WARN") {
				t.Errorf("unexpected warning:\n%s", stderr.String())
			}
		})
	}
}

// TestPluginRegistryMirror: the Azure plugin's --registry-mirror source:target serves an
// image on the source host with the target login server's refresh token, keyed for the
// source host the kubelet asked about (providers/mirror); a target that is no ACR login
// server is ignored with a warning, and the source host then gets an error, not a token.
func TestPluginRegistryMirror(t *testing.T) {
	f := start(t)
	cfg := writeConfig(t, map[string]any{"cloud": "AzurePublicCloud", "tenantId": acrtest.Tenant, "useManagedIdentityExtension": true, "aadClientId": "msi", "aadClientSecret": "msi"})
	t.Setenv(acr.EnvIMDSEndpoint, f.IMDSURL())
	args := []string{cfg, "--registry-mirror=mcr.microsoft.com:" + acrtest.LoginServer, "--exchange-endpoint=" + f.RegistryHTTP.URL, "--cache-dir=" + t.TempDir()}
	var stdout, stderr bytes.Buffer
	in := strings.NewReader(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"mcr.microsoft.com/dotnet/runtime"}`)
	if code := providers.Execute(context.Background(), acr.Plugin(), args, in, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	var resp struct {
		Auth map[string]struct{ Username, Password string }
	}
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		t.Fatalf("stdout is not a response: %v\n%s", err, stdout.String())
	}
	if a := resp.Auth["mcr.microsoft.com"]; a.Username != acr.Username || a.Password == "" || len(resp.Auth) != 1 {
		t.Errorf("auth = %v, want the login server's refresh token keyed for mcr.microsoft.com alone", resp.Auth)
	}

	stdout.Reset()
	stderr.Reset()
	bad := []string{cfg, "--registry-mirror=mcr.microsoft.com:" + acrtest.LoginServer + ".evil.example", "--cache-dir=" + t.TempDir()}
	in = strings.NewReader(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"mcr.microsoft.com/dotnet/runtime"}`)
	code := providers.Execute(context.Background(), acr.Plugin(), bad, in, &stdout, &stderr)
	if code == 0 || stdout.Len() != 0 {
		t.Errorf("a lookalike mirror target: exit %d, stdout %q; want a failure", code, stdout.String())
	}
}

// TestPluginRefuses: two cloud configs, or a missing one, fail with one line and nothing on
// stdout.
func TestPluginRefuses(t *testing.T) {
	cfg := writeConfig(t, map[string]any{"useManagedIdentityExtension": true})
	tests := []struct {
		name, want string
		args       []string
	}{
		{name: "two positional arguments", args: []string{cfg, cfg}, want: "at most one argument"},
		{name: "positional and flag disagree", args: []string{cfg, "--cloud-config=/etc/other.json"}, want: "given twice"},
		{name: "missing cloud config", args: []string{"/nonexistent/azure.json"}, want: "cloud config"},
		{name: "bad imds endpoint", args: []string{"--imds-endpoint=ftp://x"}, want: "imds-endpoint"},
		{name: "http exchange off loopback", args: []string{"--exchange-endpoint=http://registry.example.io"}, want: "loopback"},
		{name: "endpoint with a password", args: []string{"--exchange-endpoint=https://user:s3cr3t-pw@registry.example.io"}, want: "https://registry.example.io"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			in := strings.NewReader(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"pullkeystest.azurecr.io/app"}`)
			code := providers.Execute(context.Background(), acr.Plugin(), append(tt.args, "--cache-dir="), in, &stdout, &stderr)
			if code == 0 || stdout.Len() != 0 {
				t.Fatalf("exit %d, stdout %q; want a failure and nothing on stdout", code, stdout.String())
			}
			if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n"); lines != 0 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q, want one line saying %q", stderr.String(), tt.want)
			}
			if strings.Contains(stderr.String(), "s3cr3t") {
				t.Errorf("stderr = %q holds the endpoint's password", stderr.String())
			}
		})
	}
}
