package acr

import (
	"context"
	"fmt"
	"github.com/pullkeys/pullkeys/internal/satoken"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/providers"
)

// The service account annotations of Azure Workload Identity, which the Azure plugin reads
// from a v1 request's serviceAccountAnnotations. List them in the provider's
// tokenAttributes.requiredServiceAccountAnnotationKeys (client ID) and
// optionalServiceAccountAnnotationKeys (tenant ID).
const (
	AnnotationClientID = "azure.workload.identity/client-id"
	AnnotationTenantID = "azure.workload.identity/tenant-id"
)

// Scope is what the AAD token is asked for: the container registry audience, not Azure
// Resource Manager, so pulls work where a registry has ARM authentication turned off.
const Scope = "https://containerregistry.azure.net/.default"

// IMDSHost is the instance metadata service's address on every Azure VM.
const IMDSHost = "169.254.169.254"

// EnvIMDSEndpoint names the variable the Azure SDKs for other languages read to move the
// managed identity endpoint (aad-pod-identity's NMI used it); the default of --imds-endpoint.
const EnvIMDSEndpoint = "AZURE_POD_IDENTITY_AUTHORITY_HOST"

// EnvAuthorityHost names the variable azidentity reads for the AAD authority; the default of
// --authority-host.
const EnvAuthorityHost = "AZURE_AUTHORITY_HOST"

// Kinds of identity, in messages and cache keys.
const (
	kindManaged   = "managed identity"
	kindSecret    = "service principal"
	kindFederated = "federated token file"
	kindWorkload  = "workload identity"
)

// identity is who asks AAD for a token: what a cache key needs to know of it (never a
// secret), the tenant the registry exchange is told, and how to build its credential.
type identity struct {
	kind     string
	describe string   // for messages and logs
	key      []string // cache key parts
	tenant   string
	imds     bool
	newCred  func(p *Provider, authority string) (azcore.TokenCredential, error)
}

// nodeIdentity picks the node's identity from the cloud config, as cloud-provider-azure
// does: a federated token file when useFederatedWorkloadIdentityExtension is set, the managed
// identity when useManagedIdentityExtension is set (user-assigned when userAssignedIdentityID
// or --user-assigned-identity-id names one), else the aadClientId/aadClientSecret service
// principal. Without a cloud config it is the managed identity.
func (p *Provider) nodeIdentity() (*identity, error) {
	cfg := p.cfg
	uami := p.userAssignedID
	if cfg == nil || cfg.UseManagedIdentityExtension || uami != "" && !cfg.UseFederatedWorkloadIdentityExtension {
		if uami == "" && cfg != nil {
			uami = cfg.UserAssignedIdentityID
		}
		return p.managedIdentity(uami)
	}
	switch {
	case cfg.UseFederatedWorkloadIdentityExtension:
		if !isGUID(cfg.AADClientID) || !isTenant(cfg.TenantID) || cfg.AADFederatedTokenFile == "" {
			return nil, fmt.Errorf("%w: useFederatedWorkloadIdentityExtension needs aadClientId (a GUID), tenantId and aadFederatedTokenFile in the cloud config", ErrNoIdentity)
		}
		file, client, tenant := cfg.AADFederatedTokenFile, cfg.AADClientID, cfg.TenantID
		return &identity{
			kind:     kindFederated,
			describe: fmt.Sprintf("%s %s (client %s, tenant %s)", kindFederated, file, client, tenant),
			key:      []string{"federated", tenant, client, file},
			tenant:   tenant,
			newCred: func(p *Provider, authority string) (azcore.TokenCredential, error) {
				return azidentity.NewClientAssertionCredential(tenant, client, func(context.Context) (string, error) {
					b, err := os.ReadFile(file)
					if err != nil {
						return "", fmt.Errorf("read the federated token file: %w", err)
					}
					return strings.TrimSpace(string(b)), nil
				}, &azidentity.ClientAssertionCredentialOptions{ClientOptions: p.clientOptions(authority), DisableInstanceDiscovery: true})
			},
		}, nil
	case cfg.AADClientID != "" && cfg.AADClientSecret != "":
		if !isGUID(cfg.AADClientID) {
			return nil, fmt.Errorf("%w: the cloud config's aadClientId is not a GUID", ErrNoIdentity)
		}
		if !isTenant(cfg.TenantID) {
			return nil, fmt.Errorf("%w: the cloud config has a service principal but no valid tenantId", ErrNoIdentity)
		}
		client, secret, tenant := cfg.AADClientID, cfg.AADClientSecret, cfg.TenantID
		return &identity{
			kind:     kindSecret,
			describe: fmt.Sprintf("%s %s (tenant %s)", kindSecret, client, tenant),
			// The secret's hash: a rotated secret is a new identity, which must not be
			// served the old one's token after it was revoked.
			key:    []string{"sp", tenant, client, cache.HashIdentity("secret\x00" + secret)},
			tenant: tenant,
			newCred: func(p *Provider, authority string) (azcore.TokenCredential, error) {
				return azidentity.NewClientSecretCredential(tenant, client, secret,
					&azidentity.ClientSecretCredentialOptions{ClientOptions: p.clientOptions(authority), DisableInstanceDiscovery: true})
			},
		}, nil
	case cfg.AADClientCertPath != "":
		return nil, fmt.Errorf("%w: the cloud config's service principal uses a certificate (aadClientCertPath), which this plugin does not support; use a managed identity or a client secret", ErrNoIdentity)
	}
	return nil, fmt.Errorf("%w: the cloud config sets neither useManagedIdentityExtension nor aadClientId and aadClientSecret", ErrNoIdentity)
}

// managedIdentity is the VM's managed identity through IMDS: system-assigned when id is "",
// else the user-assigned one with that client ID (or resource ID).
func (p *Provider) managedIdentity(id string) (*identity, error) {
	cred := &imdsCredential{}
	which := "system-assigned"
	switch {
	case id == "":
	case isGUID(id):
		cred.clientID, which = id, "client ID "+id
	case isResourceID(id):
		cred.resource, which = id, "resource ID "+id
	default:
		return nil, fmt.Errorf("%w: user-assigned identity %q is neither a client ID (GUID) nor a resource ID", ErrInvalidOption, oneWord(id))
	}
	tenant := ""
	if p.cfg != nil && isTenant(p.cfg.TenantID) {
		tenant = p.cfg.TenantID
	}
	return &identity{
		kind:     kindManaged,
		describe: fmt.Sprintf("%s (%s) from IMDS %s", kindManaged, which, p.imdsEndpoint),
		key:      []string{"mi", p.imdsEndpoint, strings.ToLower(id)},
		tenant:   tenant,
		imds:     true,
		newCred: func(p *Provider, _ string) (azcore.TokenCredential, error) {
			c := *cred
			c.p = p
			return &c, nil
		},
	}, nil
}

// podIdentity is the pod's identity for a request with a service account token whose service
// account opted in with the azure.workload.identity/client-id annotation: the token is the
// client assertion of that application (or user-assigned identity), in the tenant of
// azure.workload.identity/tenant-id, else the cloud config's tenantId. Anything missing or
// failing is an error, never the node's identity. A service account without either
// annotation has not opted in: nil, and the node's identity answers, as for pods without
// service account tokens.
func (p *Provider) podIdentity(req *providers.Request) (*identity, error) {
	client := strings.TrimSpace(req.ServiceAccountAnnotations[AnnotationClientID])
	tenant := strings.TrimSpace(req.ServiceAccountAnnotations[AnnotationTenantID])
	if client == "" && tenant == "" {
		return nil, nil
	}
	if client == "" {
		return nil, fmt.Errorf("%w: the service account has the %s annotation but no %s; refusing to answer with the node's identity", ErrWorkloadIdentity, AnnotationTenantID, AnnotationClientID)
	}
	if !isGUID(client) {
		return nil, fmt.Errorf("%w: annotation %s is %q, not a client ID (GUID)", ErrWorkloadIdentity, AnnotationClientID, oneWord(client))
	}
	if tenant == "" && p.cfg != nil {
		tenant = p.cfg.TenantID
	}
	if tenant == "" {
		return nil, fmt.Errorf("%w: no tenant for the service account token: annotate the service account with %s or set tenantId in the cloud config", ErrWorkloadIdentity, AnnotationTenantID)
	}
	if !isTenant(tenant) {
		return nil, fmt.Errorf("%w: tenant %q is neither a GUID nor a domain name", ErrWorkloadIdentity, oneWord(tenant))
	}
	token := req.ServiceAccountToken
	return &identity{
		kind:     kindWorkload,
		describe: fmt.Sprintf("%s (client %s, tenant %s)", kindWorkload, client, tenant),
		key:      []string{"wi", tenant, strings.ToLower(client), satoken.ID(token)},
		tenant:   tenant,
		newCred: func(p *Provider, authority string) (azcore.TokenCredential, error) {
			return azidentity.NewClientAssertionCredential(tenant, client, func(context.Context) (string, error) { return token, nil },
				&azidentity.ClientAssertionCredentialOptions{ClientOptions: p.clientOptions(authority), DisableInstanceDiscovery: true})
		},
	}, nil
}

// clientOptions are the azcore options of every SDK client: the provider's transport and
// retry policy, and the AAD authority (ignored by the managed identity credential).
func (p *Provider) clientOptions(authority string) azcore.ClientOptions {
	o := azcore.ClientOptions{
		Transport: p.transport,
		Retry: policy.RetryOptions{
			MaxRetries:    int32(p.maxRetries),
			RetryDelay:    p.retryDelay,
			MaxRetryDelay: 4 * p.retryDelay,
			TryTimeout:    p.httpTimeout,
		},
		Telemetry: policy.TelemetryOptions{Disabled: true},
	}
	if authority != "" {
		o.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: authority}
	}
	return o
}
