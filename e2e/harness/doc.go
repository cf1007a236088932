// Package harness provides the real parts of the end-to-end suite and of `make demo`: the
// project's binaries built from source, a real registry on loopback, a real registry client,
// and the files a node has (the kubelet's CredentialProviderConfig, docker config files).
//
// # Registry
//
// StartRegistry serves the distribution registry (github.com/distribution/distribution/v3,
// the registry of Docker Hub and most private registries) in process, on 127.0.0.1 and a
// random port, over TLS with a certificate from a CA made for the run (NewCA), with htpasswd
// basic authentication and in-memory storage. Anonymous requests and wrong passwords get the
// registry's own 401 with a Basic challenge.
//
// The htpasswd file holds bcrypt hashes, and bcrypt reads only the first 72 bytes of a
// password; cloud registry tokens are far longer (an ECR password is about 2 KiB). So that a
// token that differs only past byte 72 is refused as the real registry would refuse it, the
// registry is fronted by a guard that also compares a SHA-256 of the whole password of known
// users. Everything else, including the 401 answers, is the registry's.
//
// Registry.Transport dials the registry whatever the host name asked, and trusts the CA: a
// client can pull 111122223333.dkr.ecr.us-east-1.amazonaws.com/team/app from the loopback
// registry with the credentials a plugin returned for that host, without DNS or network.
// The names must be listed in RegistryOptions.Hosts so that the certificate covers them.
//
// Registry.Pull is a container runtime's pull done with go-containerregistry: the manifest,
// the config and every layer, read to the end and checked against their digests.
// PullWithAny tries a list of credentials in order, as the runtime does with the list the
// kubelet hands it.
//
// The registry logs through logrus's standard logger; StartRegistry points it at
// RegistryOptions.Log, or discards it, process-wide.
//
// # Node
//
// Build runs `go build ./cmd/...` in the main module (found by ModuleRoot), which puts every
// plugin, one file each, in one directory, as a node's bin dir holds them. NewProvider,
// WriteConfig and ConfigYAML write a kubelet.config.k8s.io/v1 CredentialProviderConfig with
// the kubelet's own types; WriteDockerConfig writes a docker config.json as docker login
// does. Node runs `pullkeys check` in process (Check, CheckAs for a pod's service account) or
// as the binary (CheckBinary, Pullkeys), and a plugin by hand (RunPlugin), always with the
// node's environment only. Credentials and ImageOf read a report.
//
// Nothing here contacts an address other than 127.0.0.1, and every server and file it makes
// is removed by its Close.
package harness
