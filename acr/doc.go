// Package acr is the kubelet image credential provider for Azure Container Registry: it
// answers for <name>.azurecr.io (AzurePublicCloud), <name>.azurecr.cn (AzureChinaCloud) and
// <name>.azurecr.us (AzureUSGovernmentCloud), and for other clouds' suffixes given with
// Options.RegistrySuffixes (--registry-suffix).
//
// # Which images get credentials
//
// An image gets credentials only when its host is a login server by ParseHost: a registry
// name of 5 to 50 ASCII letters and digits, one dot, a registry suffix, on the default HTTPS
// port. "myregistry.azurecr.io.evil.io", "my-registry.azurecr.io", "a.b.azurecr.io",
// "myregistry.azurecr.de" (the retired German cloud) and "azurecr.io" are not: they get an
// error wrapping ErrNotACR, never a token. MatchImages returns the patterns for the kubelet's
// matchImages ("*.azurecr.io" …), which match the same hosts by the kubelet's label rules.
//
// # Whose identity
//
// A v1 request with a service account token whose service account has the
// azure.workload.identity/client-id annotation (AnnotationClientID) is answered for the pod:
// the token is the client assertion (a federated credential) of that application, in the
// tenant of azure.workload.identity/tenant-id or else the cloud config's tenantId. If the
// annotations are malformed or AAD refuses the assertion, the request fails: it is never
// answered with the node's identity. A service account without either annotation has not
// opted in, and gets the node's identity like a pod without a token.
//
// The node's identity is what its cloud config (Options.CloudConfig: /etc/kubernetes/azure.json
// on AKS, the Azure plugin's positional argument) says, as cloud-provider-azure reads it:
//
//   - useFederatedWorkloadIdentityExtension: the token in aadFederatedTokenFile as the client
//     assertion of aadClientId in tenantId;
//   - useManagedIdentityExtension: the VM's managed identity, user-assigned when
//     userAssignedIdentityID (a client ID or a resource ID) names one, else system-assigned;
//   - otherwise the service principal aadClientId / aadClientSecret in tenantId.
//
// Without a cloud config it is the VM's managed identity; Options.UserAssignedIdentityID
// (--user-assigned-identity-id) picks a user-assigned one in any case.
//
// # Tokens
//
// Managed identity tokens come from the instance metadata service by its REST interface
// (Options.IMDSEndpoint, default http://169.254.169.254, or $AZURE_POD_IDENTITY_AUTHORITY_HOST),
// with "Metadata: true" and api-version 2018-02-01. Service principal and federated tokens come
// from Microsoft Entra ID through azidentity (ClientSecretCredential, ClientAssertionCredential)
// at the authority of the registry's cloud: login.microsoftonline.com, login.chinacloudapi.cn
// or login.microsoftonline.us by the registry's suffix, the cloud config's cloud for a
// --registry-suffix registry, or Options.AuthorityHost ($AZURE_AUTHORITY_HOST) for all.
// Every token is for the registry audience, https://containerregistry.azure.net/.default, not
// Azure Resource Manager, so pulls work where a registry has ARM authentication turned off.
//
// The AAD token is exchanged at https://<login server>/oauth2/exchange (grant_type
// access_token, service, tenant) through azcontainerregistry's AuthenticationClient for a
// refresh token of that registry. The answer is user name Username
// (00000000-0000-0000-0000-000000000000) and the refresh token, keyed by the image's
// registry host, cacheKeyType Registry.
//
// # Caching
//
// Refresh tokens go through the shared cache (package cache), keyed by the login server, the
// exchange endpoint, the authority and the identity (its kind, tenant, client ID, the IMDS
// endpoint, a hash of a client secret, or for pods a hash naming the service account by the
// token's issuer, subject, UID and audience): never a secret. A refresh token's lifetime is
// its exp claim, read without verifying the signature. It is served for the first half of
// that lifetime, across every plugin process on the node (one AAD call and one exchange per
// login server and identity, however many pulls start at once), and the answer's
// cacheDuration is the fresh time left, never more than half of the token's remaining life.
// When a refresh fails, the old token is served with cacheDuration 0 until five minutes before
// it expires. AAD tokens are cached too, keyed by identity and authority, so one identity
// pulling from several registries asks AAD once.
//
// # Mirrors
//
// The Azure plugin's --registry-mirror source:target (Options.RegistryMirrors) is served as
// --mirror source=target through package providers/mirror, as every pullkeys plugin serves
// mirrors (docs/mirrors.md): an image on the source host gets the target login server's
// credential, keyed for the source host.
package acr
