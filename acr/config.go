package acr

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// DefaultCloudConfig is where AKS nodes keep their cloud config, the file the Azure plugin's
// kubelet config entry passes as its argument.
const DefaultCloudConfig = "/etc/kubernetes/azure.json"

// maxCloudConfigBytes bounds the cloud config read: a real one is a few KiB.
const maxCloudConfigBytes = 1 << 20

// CloudConfig holds the fields of a node's cloud config file (azure.json, read by
// cloud-provider-azure and its acr-credential-provider) that decide the node's identity.
// Other fields are ignored.
type CloudConfig struct {
	// Cloud is the cloud's name (AzurePublicCloud, AzureChinaCloud, AzureUSGovernmentCloud).
	Cloud string `json:"cloud"`
	// TenantID is the AAD tenant of the service principal, and of the token exchange.
	TenantID string `json:"tenantId"`
	// AADClientID and AADClientSecret are the service principal's; "msi" in both on AKS
	// clusters that use managed identities.
	AADClientID     string `json:"aadClientId"`
	AADClientSecret string `json:"aadClientSecret"`
	// AADClientCertPath is a service principal certificate, which this plugin does not use.
	AADClientCertPath string `json:"aadClientCertPath"`
	// UseManagedIdentityExtension selects the VM's managed identity through IMDS.
	UseManagedIdentityExtension bool `json:"useManagedIdentityExtension"`
	// UserAssignedIdentityID is the client ID (or the resource ID) of the user-assigned
	// managed identity to use; "" is the system-assigned one.
	UserAssignedIdentityID string `json:"userAssignedIdentityID"`
	// UseFederatedWorkloadIdentityExtension and AADFederatedTokenFile select a federated
	// credential: the token in the file is the client assertion for AADClientID.
	UseFederatedWorkloadIdentityExtension bool   `json:"useFederatedWorkloadIdentityExtension"`
	AADFederatedTokenFile                 string `json:"aadFederatedTokenFile"`
}

// LoadCloudConfig reads a cloud config file. Errors wrap ErrCloudConfig and never quote the
// file's content.
func LoadCloudConfig(path string) (*CloudConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCloudConfig, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCloudConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrCloudConfig, path, err)
	}
	if len(data) > maxCloudConfigBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCloudConfig, path, maxCloudConfigBytes)
	}
	c, err := ParseCloudConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseCloudConfig parses a cloud config document (JSON; unknown fields are ignored, as
// cloud-provider-azure ignores them). Errors wrap ErrCloudConfig and never quote the document.
func ParseCloudConfig(data []byte) (*CloudConfig, error) {
	var c CloudConfig
	if err := json.Unmarshal(data, &c); err != nil {
		// json's messages may quote the document (a secret among it): report the kind only.
		return nil, fmt.Errorf("%w: not a JSON object (%s)", ErrCloudConfig, jsonErrorKind(err))
	}
	for _, f := range []*string{&c.Cloud, &c.TenantID, &c.AADClientID, &c.UserAssignedIdentityID, &c.AADFederatedTokenFile, &c.AADClientCertPath} {
		*f = strings.TrimSpace(*f)
	}
	if _, err := CloudByName(c.Cloud); err != nil {
		// Not quoted: the document is not echoed into messages, field by field either.
		return nil, fmt.Errorf("%w: %w: its cloud is not AzurePublicCloud, AzureChinaCloud or AzureUSGovernmentCloud (for another cloud set --registry-suffix and --authority-host)", ErrCloudConfig, ErrInvalidOption)
	}
	return &c, nil
}

func jsonErrorKind(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q has the wrong type", e.Field)
	}
	return "malformed"
}
