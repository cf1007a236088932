// Package keyring matches images against credential patterns exactly as the kubelet does
// (k8s.io/kubernetes pkg/credentialprovider: URLsMatch and BasicDockerKeyring).
//
// One rule serves three places: a provider's matchImages, the keys of a plugin's auth map and
// the keys of a docker config file. A pattern and an image match when, both parsed as URLs
// with "https://" put in front:
//
//   - their ports are equal as strings (a pattern without a port never matches an image with
//     one, and the other way round; there are no wildcard ports);
//   - their hosts have the same number of dot-separated labels, and each pattern label matches
//     the image label as a path.Match glob ("*" is any run of characters within one label and
//     may be empty, so "*.example.io" does not match "example.io" but "*example.io" does);
//   - the pattern's path is a plain string prefix of the image's path, so "example.io/team"
//     matches "example.io/teamx/app".
//
// Because the pattern goes through a URL parser, "?" starts a query and "#" a fragment: a
// pattern such as "registr?.io" has the host "registr" and matches almost nothing, and "["
// makes most patterns unparsable. This is the kubelet's behaviour and it is kept.
//
// Credential keys (auth map and docker config keys, not matchImages) are first normalised by
// [NormalizeKey]: an "http://" or "https://" scheme is removed and a path of "/v1/" or "/v2/"
// means the host alone, so "https://index.docker.io/v1/" is the key "index.docker.io".
//
// [Keyring.Lookup] returns every credential whose key matches, keys in reverse lexical order
// (so "quay.io/team" comes before "quay.io"); when none matches and the image is on Docker Hub,
// the credentials stored under "index.docker.io" are returned.
//
// [NormalizeImage] turns what a person types into what the kubelet sends: "nginx:1.2" becomes
// "docker.io/library/nginx", "index.docker.io/x/y" becomes "docker.io/x/y", tags and digests
// are dropped. "registry-1.docker.io" is not an alias there: it stays as written, and Docker
// Hub credentials reach it only through a pattern that matches it. It is
// github.com/distribution/reference's ParseNormalizedNamed, the parser of the kubelet and the
// runtimes (the version k8s.io/kubernetes v1.36.3 requires), errors included. An earlier
// hand-written copy of its grammar, kept to spare every plugin start the package's regular
// expressions, agreed with it on every named case and every fuzzed input; it is gone, and the
// start-up cost is measured in docs/benchmarks.md.
package keyring
