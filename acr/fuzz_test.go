package acr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/acr"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// FuzzParseHost: no panics; an accepted host is <name>.<suffix> with a 5–50 character
// alphanumeric name, matched by MatchImages when it has no port, and parses again to itself.
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"myregistry.azurecr.io", "MyReg1.azurecr.cn:443", "myregistry.azurecr.io.evil.io", "a.azurecr.us", "x.azurecr.\u212a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		reg, err := acr.ParseHost(host)
		if err != nil {
			if !errors.Is(err, acr.ErrNotACR) {
				t.Fatalf("ParseHost(%q) error %v does not wrap ErrNotACR", host, err)
			}
			return
		}
		if n := len(reg.Name); n < 5 || n > 50 || reg.LoginServer != reg.Name+"."+reg.Suffix || !reg.Known {
			t.Fatalf("ParseHost(%q) = %+v", host, reg)
		}
		again, err := acr.ParseHost(reg.LoginServer)
		if err != nil || again.LoginServer != reg.LoginServer {
			t.Fatalf("ParseHost(%q) = %+v, %v; want the login server back", reg.LoginServer, again, err)
		}
		if !strings.Contains(host, ":") {
			matched := false
			for _, p := range acr.MatchImages() {
				if ok, _ := keyring.Match(p, strings.ToLower(host)+"/app"); ok {
					matched = true
				}
			}
			if !matched {
				t.Fatalf("ParseHost accepts %q but no MatchImages pattern matches it", host)
			}
		}
	})
}

// FuzzParseCloudConfig: no panics, and an error never quotes the document (it may hold a
// client secret).
func FuzzParseCloudConfig(f *testing.F) {
	for _, s := range []string{
		`{"cloud":"AzurePublicCloud","tenantId":"t","aadClientId":"msi","aadClientSecret":"msi","useManagedIdentityExtension":true}`,
		`{"aadClientSecret":"s3cr3t-value","cloud":"AzureStackCloud"}`,
		`{"useManagedIdentityExtension":"yes-s3cr3t"}`,
		`not json s3cr3t`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := acr.ParseCloudConfig(data)
		if err != nil {
			if !errors.Is(err, acr.ErrCloudConfig) {
				t.Fatalf("ParseCloudConfig error %v does not wrap ErrCloudConfig", err)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("ParseCloudConfig error %q quotes the document", err)
			}
			return
		}
		if c == nil {
			t.Fatal("ParseCloudConfig returned nil and no error")
		}
	})
}
