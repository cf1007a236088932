// Package dockercfg serves the registry credentials of docker config files through the
// kubelet's image credential provider protocol, and parses and matches docker config documents
// for other providers (the GCR provider's google-dockercfg metadata attribute).
//
// # Sources
//
// With --config (Options.Configs), every path given is read, in order, and the entries merged,
// an earlier source winning for the same key. A path is a file in either shape below, or a
// directory from which config.json, .dockerconfigjson and .dockercfg are read, whichever
// exist, in that order: $HOME/.docker, or a mounted kubernetes.io/dockerconfigjson or
// kubernetes.io/dockercfg secret (the kubelet mounts a secret's keys as files). An unreadable or
// malformed source named this way is an error naming the file and the problem.
//
// Without --config, the kubelet's own search order is used and the first file that can be
// read and parsed wins, as in the kubelet: config.json in the kubelet root directory
// (--kubelet-root-dir, default /var/lib/kubelet), the working directory, $HOME/.docker and
// /.docker; then .dockercfg in the kubelet root directory, the working directory, $HOME and /.
// A file that exists but cannot be read or parsed is skipped with a warning. No file at all is
// no credentials (and a warning), not an error.
//
// # Documents
//
// [Parse] reads both shapes, telling them apart by content, not by file name: a top-level
// object with any of docker's config.json fields ("auths", "credsStore", "credHelpers",
// "HttpHeaders", ...) is config.json, any other object is a legacy .dockercfg map of registry
// to entry. Docker's own types (configfile.ConfigFile, types.AuthConfig) are used, but not
// docker's loader, which rejects a whole file for one bad entry and unpadded base64.
//
// An entry's "auth" (base64 of "user:password") wins over its "username" and "password", as in
// the kubelet and docker; it is decoded as the kubelet does: padded when it ends in "=",
// unpadded otherwise, split at the first colon, an empty user name allowed. An entry whose
// auth does not decode or has no colon, whose credentials are not UTF-8, that has only a
// "registrytoken", or whose key does not parse, is skipped with a warning naming the key. An
// entry without any credentials is passed over silently unless a credsStore serves it.
//
// Keys are normalised as the kubelet normalises them ("https://index.docker.io/v1/" becomes
// "index.docker.io", "http://r.io:5000/v2/" becomes "r.io:5000"); two keys of one document
// that normalise alike keep the lexically first. The normalised key is the key of the answer;
// a key that would normalise differently a second time (the kubelet normalises the answer's
// keys again) is skipped.
//
// # Credential helpers
//
// The kubelet ignores credsStore and credHelpers; this package runs them, the way docker
// does: "docker-credential-<name> get" with the registry key, as written in the file, on
// stdin. Which registries a document offers through helpers:
//
//   - credHelpers: its keys. For those registries docker asks that helper and nothing else, and
//     so does this package.
//   - credsStore: the keys of "auths" entries that hold no credentials. docker login through a
//     credential store writes such an empty entry for each registry it stored, so the list is
//     what the store holds for docker. The store is not asked about registries the document
//     does not list (a store such as ecr-login that serves any host needs a credHelpers entry
//     per host), and an auths entry with credentials of its own is served from the file.
//
// Helper keys must be exact hosts (docker looks helpers up by host); a glob there is skipped
// with a warning. Helper names must be plain names (letters, digits, ".", "_", "+", "-"): a
// name with a "/" would run a program by path. A helper runs only when its key matches the
// requested image, under a timeout (--helper-timeout, default 10s), with stdin, stdout and
// stderr connected to buffers (never to the plugin's stdout), in a process group of its own that
// is killed once it exits or times out, so that nothing it started can hold the plugin's
// output open. Its answer "credentials not found in native keychain" means no credentials for
// that registry: the next source with the same key is tried. Any other failure (not on $PATH,
// non-zero exit, timeout, unreadable answer) fails the request, naming the helper, registry and
// exit status but never the helper's output, which may hold secrets.
//
// # Identity tokens
//
// The kubelet hands the runtime a user name and a password only. An identity token (the
// "identitytoken" field, or a helper answering with user name "<token>") is therefore sent as
// the password, with the entry's own user name when it has one (Azure's ACR writes
// 00000000-0000-0000-0000-000000000000 there) and otherwise with --identity-token-username,
// default "<token>", docker's marker. The user name must not be empty: containerd treats an
// empty user name as "anonymous" and drops the password. A registry that accepts its refresh
// token only through the OAuth2 refresh-token grant cannot be served through the kubelet.
//
// # Answers
//
// The answer holds only the entries whose key matches the image under the kubelet's keyring
// rules (see package keyring), keyed by normalised key, never the whole file. A Docker Hub
// image that no key matches gets the "index.docker.io" entry (the kubelet's fallback, which
// it applies again to our answer). The kubelet's rule also counts "localhost/app" as a Docker
// Hub image (no "." or ":" in its first element), but the runtime pulls it from localhost,
// where any process on the node may listen: it does not get the Docker Hub entry. No match is
// an empty auth map and exit status 0: the kubelet then pulls without these credentials.
//
// cacheDuration is --cache-duration (default 5m, the kubelet's re-read interval for its own
// docker config files; 0 means "do not cache"). cacheKeyType is Registry, unless a key with a
// path ("example.io/team") exists for the image's registry: an answer holding only the keys
// that match example.io/team/app must not be reused for example.io/other/app, so such answers
// are keyed by Image.
package dockercfg
