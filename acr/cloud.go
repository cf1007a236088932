package acr

import (
	"fmt"
	"strings"
)

// Cloud is an Azure cloud: where its Microsoft Entra ID (AAD) authority lives and under which
// DNS suffix its container registries are.
type Cloud struct {
	// Name is the name the cloud config's "cloud" field uses: AzurePublicCloud,
	// AzureChinaCloud or AzureUSGovernmentCloud.
	Name string
	// AuthorityHost is the AAD authority, with a trailing slash.
	AuthorityHost string
	// RegistrySuffix is the DNS suffix of the cloud's registries, without a leading dot.
	RegistrySuffix string
}

// The Azure clouds with a container registry service.
var (
	AzurePublic       = Cloud{Name: "AzurePublicCloud", AuthorityHost: "https://login.microsoftonline.com/", RegistrySuffix: "azurecr.io"}
	AzureChina        = Cloud{Name: "AzureChinaCloud", AuthorityHost: "https://login.chinacloudapi.cn/", RegistrySuffix: "azurecr.cn"}
	AzureUSGovernment = Cloud{Name: "AzureUSGovernmentCloud", AuthorityHost: "https://login.microsoftonline.us/", RegistrySuffix: "azurecr.us"}
)

// Clouds returns the clouds ParseHost knows, public first.
func Clouds() []Cloud { return []Cloud{AzurePublic, AzureChina, AzureUSGovernment} }

// cloudAliases maps every accepted spelling of a cloud's name, lower case, to the cloud: the
// cloud config's names (cloud-provider-azure compares them case-insensitively) and the Azure
// CLI's.
var cloudAliases = map[string]Cloud{
	"azurepubliccloud":       AzurePublic,
	"azurecloud":             AzurePublic,
	"azurechinacloud":        AzureChina,
	"azureusgovernmentcloud": AzureUSGovernment,
	"azureusgovernment":      AzureUSGovernment,
}

// CloudByName returns the cloud of a cloud config's "cloud" value, case-insensitively; ""
// is AzurePublicCloud. Other clouds (AzureStackCloud, the retired AzureGermanCloud) are an
// error: serve them with --registry-suffix and --authority-host.
func CloudByName(name string) (Cloud, error) {
	if strings.TrimSpace(name) == "" {
		return AzurePublic, nil
	}
	if c, ok := cloudAliases[strings.ToLower(strings.TrimSpace(name))]; ok {
		return c, nil
	}
	return Cloud{}, fmt.Errorf("%w: cloud %q is not one of AzurePublicCloud, AzureChinaCloud, AzureUSGovernmentCloud (for another cloud set --registry-suffix and --authority-host)", ErrInvalidOption, oneWord(name))
}

// cloudBySuffix returns the cloud whose registries live under suffix.
func cloudBySuffix(suffix string) (Cloud, bool) {
	for _, c := range Clouds() {
		if c.RegistrySuffix == suffix {
			return c, true
		}
	}
	return Cloud{}, false
}

// oneWord cuts a value for an error message: at most 64 bytes, printable ASCII.
func oneWord(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 64; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	if len(s) > 64 {
		b.WriteString("…")
	}
	return b.String()
}
