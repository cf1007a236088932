package replay

import (
	"context"
	"sync"
	"time"

	"github.com/pullkeys/pullkeys/cache"
)

// record is what a provider said its answer came from.
type record struct {
	stamp    *cache.Stamp
	freshFor time.Duration
	truncate time.Duration
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

// Save saves out, the full plugin's answer to request with cacheDuration d, for the front to
// replay, when the provider recorded exactly one cache entry behind it (see Record). The
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
