// Package gcrtest provides fakes of the Google services the gcr provider talks to, for tests,
// benchmarks and end-to-end suites: the GCE metadata server, Google STS (the token exchange
// of workload identity federation) and the IAM Credentials API (service account
// impersonation).
//
// Each fake is a real HTTP server on 127.0.0.1 that speaks the service's wire protocol, so the
// production clients are pointed at it through their ordinary endpoint overrides and nothing
// of the client is faked:
//
//	md := gcrtest.NewMetadata()
//	defer md.Close()
//	t.Setenv("GCE_METADATA_HOST", md.Host()) // honoured by cloud.google.com/go/compute/metadata
//
// The fakes are safe for concurrent use. They count requests per path, can inject latency and
// HTTP errors, and never need the network beyond loopback. The tokens they issue are opaque
// strings that carry no meaning outside the fakes.
package gcrtest
