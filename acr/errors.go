package acr

import "errors"

// Sentinel errors, for errors.Is. Messages that wrap them never hold a token, a secret or a
// response body.
var (
	// ErrInvalidOption is a bad Options field, flag or cloud config value.
	ErrInvalidOption = errors.New("invalid option")
	// ErrNotACR is an image whose host is not an Azure Container Registry login server the
	// provider serves: it gets no credentials.
	ErrNotACR = errors.New("not an Azure Container Registry")
	// ErrCloudConfig is a cloud config file (azure.json) that cannot be read or parsed.
	ErrCloudConfig = errors.New("cloud config")
	// ErrNoIdentity is a node without an identity to use: the cloud config names neither a
	// managed identity nor a service principal.
	ErrNoIdentity = errors.New("no identity configured")
	// ErrIMDSUnreachable is an instance metadata service that did not answer: the plugin is
	// probably not on an Azure VM.
	ErrIMDSUnreachable = errors.New("instance metadata service unreachable")
	// ErrAAD is a failed token request to IMDS or to Microsoft Entra ID (AAD).
	ErrAAD = errors.New("AAD token request failed")
	// ErrExchange is a failed exchange of an AAD token for a registry refresh token.
	ErrExchange = errors.New("registry token exchange failed")
	// ErrWorkloadIdentity is a request with a service account token that cannot be answered
	// for the pod's identity (annotations missing or invalid). Such a request is never
	// answered with the node's identity.
	ErrWorkloadIdentity = errors.New("workload identity")
)
