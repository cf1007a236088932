// Package cache is the credential cache shared by every pullkeys plugin process on a node.
//
// The kubelet keeps a plugin's answer only inside its own process and starts one plugin
// process per image pull it cannot answer from that memory, often many at once when many pods
// land together. Without a shared cache each of them would call the cloud API (ECR
// GetAuthorizationToken, the GCE metadata server), paying its latency and its rate limit.
//
// # What is cached, and for how long
//
// An Entry is the auth map a provider fetched (registry key to username and password) with
// the time it was fetched and the time the token expires. Cache.GetOrFetch serves an entry
// while it is fresh: for the first FreshFraction (default one half) of its lifetime, as the
// ECR credential helper does. Result.FreshFor is the fresh time left, which providers return
// to the kubelet as the cache duration. Past that point the next call fetches again; if the
// fetch fails, the old entry is still served (Source Stale, FreshFor 0, with a warning) until
// StaleMargin (default 5 minutes) before it expires. A refresh that does not end (a hung API,
// another process stuck holding the lock) counts as failed in time to serve the old entry:
// while there is one to fall back on, the lock wait and the fetch get the caller's deadline
// less a reserve (a quarter of the time left, at most 5 seconds), since an answer after the
// caller's deadline is no answer. An expired entry is never served: it is deleted from memory
// and disk when seen, and after each fetch the expired entries of other keys are pruned, with
// their lock files and whatever crashed writers left: at most once a minute per directory
// (the time is kept in the file "pruned" there) and at most 64 keys' files, chosen at random,
// per tidying, so that a large directory does not slow requests down. A fetch that returns a nil entry, one
// already expired or one expiring at or before it was fetched fails with ErrInvalidEntry and
// nothing is stored; a zero FetchedAt is taken to mean now.
//
// # Where
//
// Entries live in the process's memory and, unless Options.Dir is "" or NoDisk is set, in
// that directory (DefaultDir: /var/lib/kubelet/pullkeys for root), one JSON file per key,
// named by the hex SHA-256 of the key: <hash>.json beside its lock file <hash>.lock. A key is
// a list of parts joined with length prefixes (NewKey); the parts are stored in the file and
// must not be secrets, so identities such as service account tokens go through HashIdentity.
// Logs never show credentials or key parts: a Key prints as a prefix of its hash.
//
// # Locking
//
// Concurrent calls for one key in a process share one flight. Across processes, a process
// that finds no fresh entry on disk takes an exclusive flock(2) lock on <hash>.lock, reads
// the file again (another process may have just written it), and only then fetches and
// writes, holding the lock. The others poll the lock (Options.LockPoll) for as long as their
// context allows, then read what the winner wrote: one fetch per key per node. A process that
// gives up waiting is treated like a failed fetch (stale-if-error). The kernel releases
// the lock of a process that dies, so a killed plugin cannot wedge the others. Writes are
// atomic: a temporary file in the directory, created exclusively with mode 0600, written and
// renamed over the entry; a reader sees the old entry or the new one, never a part. They are
// not synced (an fsync cost a cold request more than a millisecond, with the lock held): an
// entry torn by a crash of the machine reads as missing and is fetched again.
//
// # What is refused
//
// A missing directory is created with mode 0700; an existing one's mode is never changed (a
// --cache-dir=/tmp typo must not take /tmp's sticky bit and permissions away from its users).
// New uses memory only, logging one warning, when the directory cannot be created, is a
// symlink, is owned by another user or writable by group or others (who could plant tokens),
// or is not writable; a later write failure is logged and the fetched entry still returned.
// A cache file or lock file that another user owns or that group or others may write (planted
// while the directory was open) is refused with a warning: the entry is fetched again and
// replaces it, the lock file is removed instead of waited for. Options.MaxLifetime caps an
// entry's lifetime at what its source can issue (ECR 12 hours, a GCE token one hour): an
// entry read from disk that claims more is cut to it, one fetched in the future is refused. Cache and
// lock files are opened without following symlinks. A cache file that is not a regular file,
// is truncated or garbage, has another format version, or holds another key than the one its
// name is the hash of is ignored (logged at debug level) and overwritten by the next fetch.
// Linux is the target: outside unix these checks are skipped and the disk layer is best
// effort.
package cache
