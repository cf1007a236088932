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
// RegistryOptions.TokenAuth runs the registry with the distribution registry's token
// authentication instead: a Bearer challenge naming a token endpoint on the same address
// (https://<Addr>/token), which issues signed JWTs to the htpasswd users for a Basic GET or
// an OAuth2 password-grant POST.
//
// Every request the registry receives is recorded (Requests) with the host it asked for and
// the credential it carried (Request.Auth: Basic, Bearer or a posted password grant), so a
// test can tell which hosts received a credential (Carrying, ByHost). Recorded secrets print
// as a mask. Recorder is a recording stand-in: a TLS (or plain HTTP) server on loopback that
// records the same way and answers every request with a 401, for a host that must receive
// nothing, or with another status once a request carries a credential (a mirror that asks for
// credentials and then fails).
//
// The registry logs through logrus's standard logger; StartRegistry points it at
// RegistryOptions.Log, or discards it, process-wide.
//
// # Containerd
//
// StartContainerd starts a real containerd as a child of the test process (config.toml
// version 2 in a temporary directory: its own socket, root and state, the native snapshotter,
// no CNI, registry hosts from Containerd.HostsDir only) and connects the kubelet's CRI client
// (k8s.io/cri-client) to it; Close stops only that process. SharedContainerd keeps one for a
// test binary run, and skips a test when containerd cannot run here unless CI is set.
// Containerd.Serve writes the hosts.toml that makes containerd pull images named on some hosts
// from a Registry (server = the registry, ca = its CA); WriteHosts and WriteHostsFile write
// any other hosts.toml, for tests of mirrors and fallbacks.
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
