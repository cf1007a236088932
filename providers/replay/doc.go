// Package replay serves a plugin's repeated answers from the shared token cache without
// starting its full binary.
//
// A kubelet starts a plugin process for every pull it cannot answer from its own cache, and
// what a Go process links decides what it pays at start-up: the k8s.io/kubelet API types alone
// bring k8s.io/apimachinery and about a hundred packages whose initialisers run before main,
// and the ECR plugin adds the AWS SDK's. When the token is already in the shared cache, none
// of that work changes the answer. So each cached provider ships as two binaries:
//
//   - the front, named as the kubelet's CredentialProviderConfig names the plugin
//     (ecr-credential-provider), which links this package and little else;
//   - the full plugin next to it, with "-full" appended to the name
//     (ecr-credential-provider-full): the provider, the protocol through the kubelet's types
//     and codecs, flags, logs. It is a complete plugin by itself.
//
// The front reads the request and looks for an answer the full plugin saved for exactly this
// invocation: the same full binary (its file's identity), arguments, environment, working
// directory and request bytes, hashed together into the answer's key. It replays that answer
// only while the cache entry the answer came from is still in the cache directory byte for
// byte (SHA-256) and still fresh, with the cacheDuration counted down to the entry's fresh
// time exactly as the full plugin computes it. Anything else (no answer, another entry, an
// expired one, a flag such as -v or --help, a request with a service account token) runs the
// full plugin, which gets the request on its stdin and replaces the front process.
//
// Nothing here reads or writes the wire format: a saved answer is the full plugin's own
// output, cut around the cacheDuration value, and saved only when putting it back together
// gives the full plugin's output byte for byte. The answer is as correct as the full plugin's,
// for the same request, as long as the full plugin's answer depends on nothing but the key's
// inputs, the cache entry and the time; providers say so for each answer with [Record], and
// record only answers for which it holds (ecr's, gcr's node token).
//
// Answers live in the "answers" directory of the cache directory, with the cache's own
// precautions: mode 0600 in a directory of mode 0700 owned by the user, never followed
// through a symlink. The full plugin removes answers a day old when it saves one.
package replay
