// Package replay serves a plugin's repeated answers from the shared token cache without
// starting its full binary.
//
// A kubelet starts a plugin process for every pull it cannot answer from its own cache, and
// what a Go process links decides what it pays at start-up: the k8s.io/kubelet API types alone
// bring k8s.io/apimachinery and about a hundred packages whose initialisers run before main,
// and the ECR plugin adds the AWS SDK's. When the answer is already known, none of that work
// changes it. So each provider ships as two binaries:
//
//   - the front, named as the kubelet's CredentialProviderConfig names the plugin
//     (ecr-credential-provider), which links this package and little else;
//   - the full plugin next to it, with "-full" appended to the name
//     (ecr-credential-provider-full): the provider, the protocol through the kubelet's types
//     and codecs, flags, logs. It is a complete plugin by itself.
//
// The front reads the request and looks for an answer the full plugin saved for exactly this
// invocation: the same full binary (its file's identity), arguments, environment (less the
// variables systemd sets anew at each start of the kubelet, such as INVOCATION_ID, which no
// plugin reads), working directory and request bytes, hashed together into the answer's key.
// So a restarted kubelet asking again for an image it asked for before gets the replay. Anything else (no
// answer, a flag such as -v or --help, a request with a service account token, an answer
// whose sources changed) runs the full plugin, which gets the request on its stdin and
// replaces the front process.
//
// What an answer may be saved from, and how long it is replayed, the provider says with each
// answer:
//
//   - [Record]: one entry of the shared token cache (ecr, gcr's node token). The answer is
//     replayed while that entry is still in the cache directory byte for byte (SHA-256) and
//     fresh, with the cacheDuration counted down to the entry's fresh time exactly as the full
//     plugin computes it.
//   - [RecordFiles]: files read and files found absent (dockercfg without credential
//     helpers). The answer is replayed as it was while every file has the same bytes and
//     permissions and every absent one is still absent, for at most a day.
//
// Nothing here reads or writes the wire format: a saved answer is the full plugin's own
// output, cut around the cacheDuration value for cache entries, and saved only when putting
// it back together gives that output byte for byte. It is saved only when the full plugin
// wrote nothing on stderr (no warning to repeat) and was not asked for logs. The answer is as
// correct as the full plugin's, for the same request, as long as the full plugin's answer
// depends on nothing but the key's inputs and the recorded sources (and, for cache entries,
// the time); providers record only answers for which that holds.
//
// Answers live in the "answers" directory of the cache directory (--cache-dir), with the
// cache's own precautions: mode 0600 in a directory of mode 0700 owned by the user, never
// followed through a symlink. The full plugin removes answers a day old when it saves one.
// --no-disk-cache, or an empty --cache-dir, turns replay off.
package replay
