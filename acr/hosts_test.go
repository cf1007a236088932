package acr_test

import (
	"errors"
	"testing"

	"github.com/pullkeys/pullkeys/acr"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

func TestParseHost(t *testing.T) {
	tests := []struct {
		name      string
		host      string
		extra     []string
		wantLogin string
		wantCloud string
	}{
		{name: "public", host: "myregistry.azurecr.io", wantLogin: "myregistry.azurecr.io", wantCloud: "AzurePublicCloud"},
		{name: "china", host: "myregistry.azurecr.cn", wantLogin: "myregistry.azurecr.cn", wantCloud: "AzureChinaCloud"},
		{name: "us government", host: "myregistry.azurecr.us", wantLogin: "myregistry.azurecr.us", wantCloud: "AzureUSGovernmentCloud"},
		{name: "upper case", host: "MyRegistry.AzureCR.io", wantLogin: "myregistry.azurecr.io", wantCloud: "AzurePublicCloud"},
		{name: "explicit 443", host: "myregistry.azurecr.io:443", wantLogin: "myregistry.azurecr.io", wantCloud: "AzurePublicCloud"},
		{name: "five characters", host: "abcde.azurecr.io", wantLogin: "abcde.azurecr.io", wantCloud: "AzurePublicCloud"},
		{name: "fifty characters", host: "a1234567890123456789012345678901234567890123456789.azurecr.io", wantLogin: "a1234567890123456789012345678901234567890123456789.azurecr.io", wantCloud: "AzurePublicCloud"},
		{name: "digits only", host: "12345.azurecr.io", wantLogin: "12345.azurecr.io", wantCloud: "AzurePublicCloud"},
		{name: "registry suffix", host: "myregistry.azurecr.microsoft.scloud", extra: []string{"azurecr.microsoft.scloud"}, wantLogin: "myregistry.azurecr.microsoft.scloud"},
		{name: "registry suffix with a leading dot", host: "myregistry.azurecr.de", extra: []string{".azurecr.de"}, wantLogin: "myregistry.azurecr.de"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := acr.ParseHost(tt.host, tt.extra...)
			if err != nil {
				t.Fatalf("ParseHost(%q) error: %v", tt.host, err)
			}
			if reg.LoginServer != tt.wantLogin || reg.Host != tt.host || reg.Cloud.Name != tt.wantCloud {
				t.Errorf("ParseHost(%q) = %+v, want login server %q, cloud %q", tt.host, reg, tt.wantLogin, tt.wantCloud)
			}
		})
	}
}

// lookalikes are hosts that look like login servers and are not: each must be an error, and
// none may be matched by the provider's matchImages patterns and ParseHost differently.
var lookalikes = []struct{ name, host string }{
	{"suffix appended", "myregistry.azurecr.io.evil.io"},
	{"cloud suffix appended", "myregistry.azurecr.io.cn"},
	{"suffix as a subdomain", "myregistry.azurecr.io.azurecr.io"},
	{"prefix label", "evil.myregistry.azurecr.io"},
	{"bare suffix", "azurecr.io"},
	{"dash in the name", "my-registry.azurecr.io"},
	{"underscore in the name", "my_registry.azurecr.io"},
	{"name too short", "abcd.azurecr.io"},
	{"name too long", "a12345678901234567890123456789012345678901234567890.azurecr.io"},
	{"empty name", ".azurecr.io"},
	{"retired German cloud", "myregistry.azurecr.de"},
	{"similar domain", "myregistry.azurecr.com"},
	{"missing letter", "myregistry.azurec.io"},
	{"extra letter", "myregistry.azureacr.io"},
	{"dash instead of dot", "myregistry-azurecr.io"},
	{"name glued to the domain", "myregistryazurecr.io"},
	{"other port", "myregistry.azurecr.io:5000"},
	{"empty port", "myregistry.azurecr.io:"},
	{"trailing dot", "myregistry.azurecr.io."},
	{"kelvin sign", "myregistry.azurecr.\u212a"},
	{"cyrillic a", "myregistry.\u0430zurecr.io"},
	{"non-ascii name", "myr\u00e9gistry.azurecr.io"},
	{"userinfo", "user@myregistry.azurecr.io"},
	{"data endpoint", "myregistry.eastus.data.azurecr.io"},
	{"empty", ""},
	{"login server of another suffix list", "myregistry.azurecr.microsoft.scloud"},
	{"mcr", "mcr.microsoft.com"},
}

func TestParseHostLookalikes(t *testing.T) {
	if len(lookalikes) < 20 {
		t.Fatalf("%d lookalikes, want at least 20", len(lookalikes))
	}
	for _, tt := range lookalikes {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := acr.ParseHost(tt.host)
			if !errors.Is(err, acr.ErrNotACR) {
				t.Errorf("ParseHost(%q) = %+v, %v; want an error wrapping ErrNotACR", tt.host, reg, err)
			}
		})
	}
}

// TestMatchImagesAgreesWithParseHost: every host ParseHost accepts (without a port) is matched
// by MatchImages, and the lookalikes that MatchImages matches are the ones the provider must
// refuse itself (the kubelet would ask it).
func TestMatchImagesAgreesWithParseHost(t *testing.T) {
	for _, host := range []string{"myregistry.azurecr.io", "myregistry.azurecr.cn", "myregistry.azurecr.us"} {
		matched := false
		for _, pat := range acr.MatchImages() {
			if ok, _ := keyring.Match(pat, host+"/app"); ok {
				matched = true
			}
		}
		if !matched {
			t.Errorf("no MatchImages pattern matches %s", host)
		}
	}
	for _, pat := range acr.MatchImages("azurecr.microsoft.scloud") {
		if ok, _ := keyring.Match(pat, "myregistry.azurecr.microsoft.scloud/app"); ok {
			return
		}
	}
	t.Errorf("MatchImages(azurecr.microsoft.scloud) does not match a login server under it")
}

func TestValidateSuffix(t *testing.T) {
	for _, tt := range []struct {
		name, suffix string
		ok           bool
	}{
		{"two labels", "azurecr.de", true},
		{"four labels", "azurecr.microsoft.scloud", true},
		{"leading dot", ".azurecr.de", true},
		{"one label", "azurecr", false},
		{"wildcard", "*.azurecr.io", false},
		{"upper case", "AzureCR.de", false},
		{"empty label", "azurecr..de", false},
		{"port", "azurecr.de:443", false},
		{"path", "azurecr.de/x", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := acr.ValidateSuffix(tt.suffix); (err == nil) != tt.ok {
				t.Errorf("ValidateSuffix(%q) = %v, want ok %v", tt.suffix, err, tt.ok)
			}
		})
	}
}

func TestCloudByName(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"empty is public", "", "AzurePublicCloud"},
		{"public", "AzurePublicCloud", "AzurePublicCloud"},
		{"cloud-provider-azure upper case", "AZURECHINACLOUD", "AzureChinaCloud"},
		{"cli name", "AzureUSGovernment", "AzureUSGovernmentCloud"},
		{"stack is not known", "AzureStackCloud", ""},
		{"german is retired", "AzureGermanCloud", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := acr.CloudByName(tt.in)
			if tt.want == "" {
				if !errors.Is(err, acr.ErrInvalidOption) {
					t.Errorf("CloudByName(%q) = %v, %v; want ErrInvalidOption", tt.in, c, err)
				}
				return
			}
			if err != nil || c.Name != tt.want {
				t.Errorf("CloudByName(%q) = %v, %v; want %s", tt.in, c.Name, err, tt.want)
			}
		})
	}
}

func TestShapes(t *testing.T) {
	for _, tt := range []struct {
		name, s    string
		guid, tent bool
		resource   bool
	}{
		{name: "guid", s: "72f988bf-86f1-41af-91ab-2d7cd011db47", guid: true, tent: true},
		{name: "guid upper case", s: "72F988BF-86F1-41AF-91AB-2D7CD011DB47", guid: true, tent: true},
		{name: "guid without dashes", s: "72f988bf86f141af91ab2d7cd011db47", tent: true},
		{name: "domain", s: "contoso.onmicrosoft.com", tent: true},
		{name: "path", s: "../evil"},
		{name: "query", s: "t?x=1"},
		{name: "resource ID", s: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id", resource: true},
		{name: "resource ID lower case", s: "/subscriptions/s/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/id", resource: true},
		{name: "resource ID of another type", s: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/id"},
		{name: "resource ID with an empty segment", s: "/subscriptions//resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := acr.IsGUIDForTest(tt.s); got != tt.guid {
				t.Errorf("isGUID(%q) = %v, want %v", tt.s, got, tt.guid)
			}
			if got := acr.IsTenantForTest(tt.s); got != tt.tent {
				t.Errorf("isTenant(%q) = %v, want %v", tt.s, got, tt.tent)
			}
			if got := acr.IsResourceIDForTest(tt.s); got != tt.resource {
				t.Errorf("isResourceID(%q) = %v, want %v", tt.s, got, tt.resource)
			}
		})
	}
}
