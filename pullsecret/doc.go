// Package pullsecret makes and checks Kubernetes image pull secrets: Secrets of type
// kubernetes.io/dockerconfigjson that pods list in imagePullSecrets. It is the "pullkeys
// secret" command ([Command]) and the library under it.
//
// # Making a Secret
//
// [Create] writes the Secret that kubectl create secret docker-registry --dry-run=client
// prints, byte for byte: apiVersion v1, kind Secret, the name, the namespace only when one is
// given, type kubernetes.io/dockerconfigjson, and under .dockerconfigjson the document
// {"auths":{"<server>":{"username":…,"password":…,"email":…,"auth":…}}} with kubectl's field
// order, an empty email left out and "auth" (base64 of user:password) always present. YAML goes
// through sigs.k8s.io/yaml (keys sorted), JSON is indented by four spaces, as kubectl does; a
// zero creationTimestamp is left out, as by kubectl v1.34 and later. kubectl's default server
// is kept: Docker Hub's "https://index.docker.io/v1/".
//
// The credentials come from one of three places:
//
//   - flags, as for kubectl (user name, password, server, email);
//   - a docker config ([FromDockerConfig]), parsed by the dockercfg package: every entry, or
//     only those the kubelet would use for given images. Entries served by a credential
//     helper (credsStore, credHelpers) are resolved by running the helper, since a helper
//     exists only where docker runs; an identity token becomes the password;
//   - a kubelet image credential provider plugin ([FromProvider]), run exactly as the kubelet
//     runs it (kubelet.Exec): the request for each image, normalised as the kubelet sends it,
//     in the chosen apiVersion on stdin, the plugin's args and env, a one-minute kill, the
//     answer decoded strictly. The credentials packed are those the kubelet would hand to the
//     runtime for the image (keyring.Lookup: every matching key, Docker Hub's fallback to
//     index.docker.io); an answer none of whose keys matches is an error, since a Secret
//     without them fails only at pull time. A key with a glob in its host
//     ("*.dkr.ecr.*.amazonaws.com") is written as the image's registry host, with its port and
//     the key's path: the kubelet would expand the glob, but docker, containerd, build tools
//     and other readers of pull secrets do not, and an exact key grants the credentials to no
//     other host. Where a glob and an exact key yield the same registry, the first in the
//     kubelet's order (the exact one) is kept.
//
// # Checking a Secret
//
// [Check] reads one Secret, YAML or JSON, and reports [Finding]s in two grades. An error is
// something after which the API server rejects the Secret, or the kubelet fails on it or gets
// no credentials from it; a warning is accepted but likely a mistake. In order:
//
//   - the input: empty, not YAML or JSON (with the line), several YAML documents, a List
//     (named as such, with its items), something other than an object;
//   - the object: kind Secret and apiVersion v1 (a docker config.json given by mistake is
//     recognised), decoded strictly and case-sensitively as kubectl's default strict field
//     validation does (unknown, duplicate and wrongly-cased fields), a valid name and namespace;
//   - the type: kubernetes.io/dockerconfigjson with key .dockerconfigjson, or the legacy
//     kubernetes.io/dockercfg with key .dockercfg. The kubelet ignores a Secret of any other
//     type (a missing type is Opaque), without a word;
//   - the data: each value must be standard, padded base64 (line breaks ignored), as the API
//     server decodes it; a bad value is reported with the offset of the first bad byte and
//     what that byte is (a space from a line-wrapped value folded by YAML, the URL-safe
//     alphabet, padding in the middle, the JSON itself), never the value. stringData is merged
//     over data as the API server does. The key's value must be a JSON object (what the API
//     server checks); base64 encoded twice, or base64 under stringData, is recognised;
//   - the docker config, as the kubelet reads it (pkg/credentialprovider, encoding/json: field
//     names case-insensitive, unknown fields ignored): "auths" must be there (credsStore and
//     credHelpers are ignored by the kubelet; a legacy, registries-at-the-top document is
//     recognised); each entry must be an object of strings, and its "auth" base64 of
//     user:password, decoded as the kubelet does (padded when it ends in "=", unpadded
//     otherwise, never trimmed, split at the first colon). One bad entry makes the kubelet fail
//     every pull of every pod that lists the Secret, so it is an error. Entries without
//     credentials, credentials ending in a line break (echo instead of echo -n), fields that
//     disagree with auth, keys the kubelet cannot parse, registry-1.docker.io (which no Docker
//     Hub image reaches) and two keys for one registry are warnings.
//
// A Secret the kubelet can read gets its registries listed in the kubelet's order (keys in
// reverse lexical order), each with what it serves under the kubelet's rules (exact port,
// per-label host globs, string-prefix path), and for each image of CheckOptions.Images the
// keys the kubelet would use, or, when none matches, why each does not (kubelet.ExplainMatch).
// An image no entry serves is an error.
//
// # Secrets
//
// Nothing here logs or reports a password, a token, an "auth" value or a data value: findings
// name fields, offsets and character classes. Passwords in a [Report] are masked
// ("********(N chars)") unless CheckOptions.ShowSecrets. A failing plugin's stderr is passed on,
// as the kubelet passes it to its log, with the values of the env given to the plugin redacted.
// The only output holding credentials is the Secret that create writes on stdout.
package pullsecret
