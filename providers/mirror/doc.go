// Package mirror lets every credential provider answer for images on a public registry
// (docker.io, registry.k8s.io, quay.io …) that the node's container runtime really pulls from
// a mirror or pull-through cache of the provider's own registry: an ECR pull-through cache,
// an Artifact Registry remote repository, a self-hosted mirror whose credential is in a docker
// config.
//
// # Mapping
//
// A mapping, the value of --mirror, is UPSTREAM=MIRROR[/PATH]. The kubelet sends images
// normalised ("nginx" is "docker.io/library/nginx", "index.docker.io/x/y" is "docker.io/x/y");
// an image on UPSTREAM, by the kubelet's matching rules (the same number of host labels, the
// same port, per-label globs), is the same repository under MIRROR/PATH:
//
//	--mirror docker.io=111122223333.dkr.ecr.us-east-1.amazonaws.com/docker-hub
//	docker.io/library/nginx → 111122223333.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/nginx
//
// PATH is a repository prefix, as containerd's override_path endpoints and the pull-through
// caches name what they cache. UPSTREAM may hold globs below a registrable domain
// ("*.example.com"); a glob over a public suffix ("*.com", "*.co.uk", "*.github.io") is refused.
// registry-1.docker.io is not docker.io, and lookalikes ("docker.io.evil.example") match
// nothing.
//
// # Answers
//
// [Wrap] puts a provider behind the mappings. For an image on an upstream it asks the provider
// about the image on the mirror, so the credential comes through the provider's usual path:
// its cache, its identity (the request's service account token is passed on unchanged) and
// its own checks of the host, applied to the mirror. The answer holds the credential the
// kubelet would use for the mirror image (the most specific matching key), under one key: the
// upstream host of the request. Other images go to the provider unchanged. A mapping whose
// mirror the provider does not serve is refused by Wrap, at start-up.
//
// While mirrors are configured, no answer has cacheKeyType Global: the kubelet reuses a Global
// answer for every image its matchImages match without running the plugin, so an answer for
// the provider's own registry would be reused for an upstream image and the other way round.
// Global answers become Registry answers.
//
// # containerd
//
// The kubelet hands a credential to the runtime without a server address, and containerd
// sends it to every host it tries: the [host] sections of <config_path>/<upstream>/hosts.toml
// in file order, then the server line, or the upstream itself when there is none or the file
// does not parse. [LoadHosts] reads the directory as containerd 1.6 does, with
// github.com/pelletier/go-toml/v2 (no init-time work at plugin start). With a hosts directory
// (--containerd-hosts-dir) the wrapper discovers mirrors of the provider's registry there, and
// refuses to answer for an upstream whose hosts.toml would hand the credential to any host but
// the mirror; --mirror-allow-upstream-fallback accepts the upstream itself as that host. See
// docs/mirrors.md.
package mirror
