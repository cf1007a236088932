// Package security holds the tests that span the plugin binaries: the fault matrix, hostile
// input, lookalike hosts, the breadth of the auth keys each binary returns, secrets in logs,
// the cache directory's permissions, and a hundred plugin processes killed at random. It has
// no code of its own; docs/security.md maps each of its tests (and those of the other packages)
// to the threat or the fault it guards against.
//
// # How the tests run
//
// TestMain builds the binaries of ./cmd (ecr-, gcr- and dockercfg-credential-provider and
// pullkeys, one file per plugin) once per run into a temporary directory, without the race
// detector, and the tests run them as the kubelet does: a CredentialProviderRequest on stdin,
// args as in a CredentialProviderConfig, the answer read from stdout with
// providers.DecodeResponse.
//
// The tests are for Linux, the platform the kubelet runs plugins on (they read rusage, run a
// binary as another user and kill process groups). testdata/rssrun measures a binary's peak
// memory on its behalf.
//
// The cloud APIs are the fakes of ecr/ecrtest and gcr/gcrtest, served by the test process on
// 127.0.0.1. Every binary runs with an environment built from scratch (never the developer's),
// with every endpoint it could reach pointed at loopback: AWS_ENDPOINT_URL and the ECR, ECR
// Public and STS endpoints at a fake or a closed port, AWS_EC2_METADATA_DISABLED=true, no AWS
// profile or credentials files, GCE_METADATA_HOST at a fake or a closed port, HOME in a
// temporary directory. No test sends a packet anywhere but 127.0.0.1.
//
// # What "correct under a fault" means
//
// The kubelet never fails a pull because a plugin failed: it logs the plugin's stderr and
// pulls with whatever other credentials it has. So under every fault a binary must either
// answer right (the fresh token, or the still-valid cached one: stale-if-error) or exit
// non-zero with one line on stderr that says what failed, with nothing on stdout, within its
// --timeout and so before the kubelet kills it after one minute. It must never answer with
// credentials for a host other than the one asked about, and never write a secret (password,
// token, service account token, base64 "auth") on stderr. Test names state the fault and the
// expected outcome: TestECRFaults/throttled/cold_cache_clear_error.
package security
