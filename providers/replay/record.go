package replay

import (
	"context"
	"io/fs"
	"sync"
	"time"

	"github.com/pullkeys/pullkeys/cache"
)

// record is what a provider said its answer came from: one cache entry (stamp), or files
// and a directory to keep the answer in.
type record struct {
	stamp    *cache.Stamp
	freshFor time.Duration
	truncate time.Duration

	files []File
	dir   string
}

// File is a file an answer was derived from, as it was read.
type File struct {
	Path string
	// Absent: the file did not exist (opening it failed with ENOENT or ENOTDIR), and the
	// answer holds only while it does not.
	Absent bool
	// Digest is the SHA-256 of the bytes read, Mode the file's permission bits then.
	Digest [32]byte
	Mode   fs.FileMode
}

// recorder collects the records of one request.
type recorder struct {
	mu      sync.Mutex
	records []record
}

type recorderKey struct{}

// WithRecorder returns a context in which providers' Record calls are kept for Save.
func WithRecorder(ctx context.Context) context.Context {
	return context.WithValue(ctx, recorderKey{}, &recorder{})
}

// Record says that the answer to the request of ctx is derived from the cache entry of r
// alone, with r.FreshFor truncated to truncate (0: not truncated) as its cacheDuration: the
// same answer, for the same request, flags and environment, holds for as long as the entry
// stays in the cache unchanged and fresh. A provider calls it only for such answers; one whose
// answer also depends on something else (a file, a second entry, the network) must not.
// Without a recorder in ctx (a provider used as a library) it does nothing.
func Record(ctx context.Context, r *cache.Result, truncate time.Duration) {
	rec, ok := ctx.Value(recorderKey{}).(*recorder)
	if !ok || r == nil {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.records = append(rec.records, record{stamp: r.Stamp, freshFor: r.FreshFor, truncate: truncate})
}

// RecordFiles says that the answer to the request of ctx is derived from files alone, as
// they were read (see File): the same answer, for the same request, flags and environment,
// holds for as long as every file has the same bytes and permissions, every absent one is
// still absent, and its cacheDuration is a fixed one. It is kept in dir, a cache directory
// (created with mode 0700 when missing), for at most a day. A provider whose answer also
// depends on something else (a credential helper, the time, the network) must not call it.
func RecordFiles(ctx context.Context, dir string, files []File) {
	rec, ok := ctx.Value(recorderKey{}).(*recorder)
	if !ok || dir == "" {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.records = append(rec.records, record{files: append([]File(nil), files...), dir: dir})
}

// Save saves out, the full plugin's answer to request with cacheDuration d (-1 when it has
// none), for the front to replay, when the provider recorded exactly one source for it: a
// cache entry (Record) or files (RecordFiles). The
// invocation's key is built from this process: its executable, environment and working
// directory, and args (without the program name). It returns ErrNotReplayable when the answer
// cannot be replayed; nothing is saved then.
func Save(ctx context.Context, args []string, request, out []byte, d time.Duration) error {
	rec, ok := ctx.Value(recorderKey{}).(*recorder)
	if !ok {
		return ErrNotReplayable
	}
	rec.mu.Lock()
	records := append([]record(nil), rec.records...)
	rec.mu.Unlock()
	if len(records) != 1 {
		return ErrNotReplayable
	}
	key, err := selfKey(args, request)
	if err != nil {
		return err
	}
	return save(key, records[0], out, d)
}
