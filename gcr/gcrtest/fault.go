package gcrtest

import (
	"net/http"
	"sync"
	"time"
)

// behaviour is the fault injection and request counting that every fake shares.
type behaviour struct {
	mu      sync.Mutex
	latency time.Duration
	faults  map[string]*fault // by path ("" for every path)
	calls   map[string]int
	total   int
	closed  chan struct{}
}

type fault struct {
	status int
	times  int // < 0: forever
}

func newBehaviour() *behaviour {
	return &behaviour{faults: make(map[string]*fault), calls: make(map[string]int), closed: make(chan struct{})}
}

func (b *behaviour) setLatency(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.latency = d
}

func (b *behaviour) fail(path string, status, times int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if times == 0 {
		delete(b.faults, path)
		return
	}
	b.faults[path] = &fault{status: status, times: times}
}

func (b *behaviour) count(path string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[path]
}

func (b *behaviour) totalCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// enter counts a request for path, waits out the injected latency (returning false when the
// client went away or the fake closed) and writes an injected error if one is due (returning
// false). A true return means the handler should answer normally.
func (b *behaviour) enter(w http.ResponseWriter, r *http.Request, path string) bool {
	b.mu.Lock()
	b.calls[path]++
	b.total++
	latency := b.latency
	b.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		case <-b.closed:
			http.Error(w, "fake closed", http.StatusServiceUnavailable)
			return false
		}
	}

	b.mu.Lock()
	f := b.faults[path]
	if f == nil {
		f = b.faults[""]
	}
	status := 0
	if f != nil {
		status = f.status
		if f.times > 0 {
			f.times--
			if f.times == 0 {
				for k, v := range b.faults {
					if v == f {
						delete(b.faults, k)
					}
				}
			}
		}
	}
	b.mu.Unlock()
	if status != 0 {
		http.Error(w, "injected fault", status)
		return false
	}
	return true
}

func (b *behaviour) close() {
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
}
