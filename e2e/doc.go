// Package e2e tests the whole chain with real parts, as a node runs it: the kubelet's
// credential provider config, the plugin binaries, `pullkeys check`, and a real registry
// client pulling from a real registry with the credentials the plugins returned.
//
// It is a module of its own (github.com/pullkeys/pullkeys/e2e) so that the registry and its
// dependencies stay out of the main module. Run it with `make e2e`, or:
//
//	cd e2e && go test -count=1 ./...
//
// # What runs
//
// TestMain builds every command of the main module (go build ./cmd/... in the main module,
// with its own go.mod) into a temporary bin directory, once per run. A command that does not
// build fails the run at once with the compiler's output; no test skips a provider.
//
// Each test then starts, on 127.0.0.1 and random ports only:
//
//   - a distribution registry (github.com/distribution/distribution/v3, in process) over TLS
//     with a CA made for the test, htpasswd basic authentication and in-memory storage, and
//     pushes a small random image to it (package harness);
//   - the fakes of the cloud APIs the plugins call: ECR, ECR Public and STS (ecr/ecrtest), the
//     GCE metadata server, Google STS and IAM Credentials (gcr/gcrtest). The plugins reach
//     them through the env of their CredentialProviderConfig entry (AWS_ENDPOINT_URL_ECR…,
//     GCE_METADATA_HOST) and their flags (--sts-endpoint…), as an operator would configure
//     them;
//
// writes a CredentialProviderConfig naming the plugins, runs `pullkeys check` (in process,
// the code behind the command, and as the binary with -o json), and pulls the manifest and
// every layer with go-containerregistry using the credentials it reported: the pull succeeds
// with them, and is refused (401) anonymously and with a wrong password.
//
// Images named after a cloud registry (111122223333.dkr.ecr.us-east-1.amazonaws.com/team/app,
// gcr.io/fake-project/app) are pulled from the loopback registry: the client dials 127.0.0.1
// for every host name, and the registry's certificate names those hosts. No DNS lookup and no
// connection leaves the machine. The registry accepts what the fakes issued (the ECR token,
// the metadata server's access token), as the real registries accept what their clouds issue.
//
// Plugins run with a small environment (HOME in a temporary directory, PATH, TMPDIR) and a
// cache directory per test, so that nothing of the person or CI running the suite (AWS
// profiles, gcloud credentials, /var/lib/kubelet) takes part.
//
// # What is covered
//
//   - dockercfg: check then pull; a wrong password is handed over and refused; the pullkeys
//     binary's JSON and text output (passwords masked unless --show-secrets); the
//     `pullkeys request | plugin` recipe in each apiVersion; the three protocol versions
//     end to end; docker config key forms (host:port, URLs, /v1/, path prefixes); images the
//     matchImages do not match (label count, port, path, https://) get no exec and no
//     credentials.
//   - ECR and ECR Public: the fake's token pulls; the plugin's disk cache serves a second
//     process; the kubelet's Registry cache serves another repository without an exec; a 2 KiB
//     token survives the chain; an AccessDenied fails the plugin with the AWS error and no
//     secret on stderr; a pod's service account with an IAM role annotation gets the role's
//     token (STS AssumeRoleWithWebIdentity with the pod's token, then ECR as the role);
//     requireServiceAccount skips a pod without one.
//   - GCR: the metadata token pulls from gcr.io and Artifact Registry; the kubelet's Global
//     cache serves the second image without an exec; a node account without a storage scope
//     fails the plugin; workload identity (STS exchange and impersonation) pulls with the
//     impersonated token and never calls the metadata server.
//   - Several providers in one config: which providers the kubelet runs for each image, and
//     the order in which the runtime tries the credentials (keys in reverse lexical order,
//     providers in config order for one key), the runtime falling through a stale docker
//     login to the ECR token; a config directory read as the kubelet reads it.
//   - The demo (`make demo`, package demo) runs to the end with the suite's binaries.
//
// Every config the suite writes is also checked with `pullkeys validate`.
package e2e
