package gcr

import "errors"

// Sentinel errors, for errors.Is. Messages that wrap them never hold a token, a password or a
// response body.
var (
	// ErrInvalidOption is a bad Options field or flag.
	ErrInvalidOption = errors.New("invalid option")
	// ErrNotGoogleRegistry is an image whose host none of the provider's patterns match: it
	// gets no credentials.
	ErrNotGoogleRegistry = errors.New("not a Google registry host")
	// ErrMetadataUnreachable is a metadata server that did not answer in time, refused the
	// connection or is not a GCE metadata server: the plugin is probably not on GCE.
	ErrMetadataUnreachable = errors.New("metadata server unreachable")
	// ErrMetadata is a metadata server that answered with an error status or a malformed
	// document.
	ErrMetadata = errors.New("metadata server error")
	// ErrNotDefined is a metadata value the instance does not have (HTTP 404): an unknown
	// service account, an unset attribute.
	ErrNotDefined = errors.New("not defined on this instance")
	// ErrMissingScope is a node service account without a scope that can pull images.
	ErrMissingScope = errors.New("missing scope")
	// ErrDockercfg is a google-dockercfg(-url) document that could not be fetched or parsed.
	ErrDockercfg = errors.New("docker config")
	// ErrWorkloadIdentityDisabled is a request with a service account token (or its
	// annotations) to a provider without --workload-identity-provider.
	ErrWorkloadIdentityDisabled = errors.New("workload identity not configured")
	// ErrTokenExchange is a failed exchange of a service account token at Google STS.
	ErrTokenExchange = errors.New("token exchange failed")
	// ErrImpersonation is a failed generateAccessToken call for the annotated Google service
	// account.
	ErrImpersonation = errors.New("service account impersonation failed")
)
