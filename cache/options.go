package cache

import (
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Defaults for the zero fields of Options.
const (
	DefaultFreshFraction = 0.5
	DefaultStaleMargin   = 5 * time.Minute
	DefaultLockPoll      = 5 * time.Millisecond
)

// Options configures a Cache. The zero value is a memory-only cache with the defaults.
type Options struct {
	// Dir is the disk layer's directory, shared by every process on the node. "" means memory
	// only.
	Dir string
	// NoDisk disables the disk layer whatever Dir says (--no-disk-cache).
	NoDisk bool
	// FreshFraction is the part of an entry's lifetime during which it is served without a
	// fetch: an entry is fresh until FetchedAt + FreshFraction*(ExpiresAt-FetchedAt). Values
	// outside (0, 1] mean DefaultFreshFraction.
	FreshFraction float64
	// StaleMargin bounds stale-if-error: when a refresh fails, the old entry is served until
	// ExpiresAt-StaleMargin, leaving the kubelet that long to pull with it. 0 means
	// DefaultStaleMargin; a negative value means no margin.
	StaleMargin time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings (disk layer disabled, stale entry served, write failed) and
	// debug lines (cache file ignored). nil discards.
	Logger *slog.Logger
	// MaxLifetime is the longest lifetime the entries' source can issue (an ECR token's 12
	// hours, a GCE access token's hour). An entry read from disk that claims to live longer is
	// cut to it, and one fetched in the future is refused: a planted or corrupted file cannot
	// outlive what the source would have given. 0 means no cap.
	MaxLifetime time.Duration
	// LockPoll is how often a process waiting for another process's fetch retries the lock.
	// 0 means DefaultLockPoll.
	LockPoll time.Duration
}

// AddFlags registers --cache-dir (default DefaultDir(); --cache-dir= disables the disk layer),
// --no-disk-cache and --cache-fresh-fraction on fs, storing into o.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Dir, "cache-dir", DefaultDir(),
		`directory of the credential cache shared by plugin processes; "" for memory only`)
	fs.BoolVar(&o.NoDisk, "no-disk-cache", false, "keep the credential cache in memory only")
	fs.Float64Var(&o.FreshFraction, "cache-fresh-fraction", DefaultFreshFraction,
		"part of a token's lifetime during which a cached token is used without refreshing it, in (0, 1]")
}

// EnvDir names the environment variable that, when set, is DefaultDir.
const EnvDir = "PULLKEYS_CACHE_DIR"

// DefaultDir returns $PULLKEYS_CACHE_DIR when it is set (an empty value means memory only),
// else /var/lib/kubelet/pullkeys when running as root (as the kubelet runs its plugins), else
// pullkeys under the user cache directory ($XDG_CACHE_HOME or ~/.cache), or "" (memory only)
// when there is none.
func DefaultDir() string {
	if dir, ok := os.LookupEnv(EnvDir); ok {
		return dir
	}
	if os.Geteuid() == 0 {
		return "/var/lib/kubelet/pullkeys"
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "pullkeys")
}
