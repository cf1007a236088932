package replay_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/replay"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"

// clock is an injectable Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// fixture is a cache directory with one entry and the inputs of one invocation.
type fixture struct {
	t       testing.TB
	dir     string
	clock   *clock
	cache   *cache.Cache
	key     cache.Key
	args    []string
	request []byte
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: filepath.Join(t.TempDir(), "cache"), clock: &clock{now: t0}, key: cache.NewKey("replay-test", host)}
	f.cache = cache.New(cache.Options{Dir: f.dir, Now: f.clock.Now})
	f.args = []string{"--cache-dir=" + f.dir}
	f.request = []byte(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"` + host + `/app"}`)
	return f
}

// get returns the entry for the fixture's key, fetching one that lives for life.
func (f *fixture) get(password string, life time.Duration) *cache.Result {
	f.t.Helper()
	r, err := f.cache.GetOrFetch(context.Background(), f.key, func(context.Context) (*cache.Entry, error) {
		now := f.clock.Now()
		return &cache.Entry{Auth: map[string]cache.Credentials{host: {Username: "AWS", Password: password}},
			FetchedAt: now, ExpiresAt: now.Add(life)}, nil
	})
	if err != nil {
		f.t.Fatalf("GetOrFetch: %v", err)
	}
	return r
}

// response is the answer a provider gives from r, as ecr's does.
func response(r *cache.Result, freshFor time.Duration) *providers.Response {
	c := r.Entry.Auth[host]
	return &providers.Response{
		CacheKeyType:  providers.CacheKeyRegistry,
		CacheDuration: providers.CacheFor(freshFor.Truncate(time.Second)),
		Auth:          map[string]providers.AuthConfig{host: {Username: c.Username, Password: c.Password}},
	}
}

func encode(t testing.TB, resp *providers.Response, apiVersion string) []byte {
	t.Helper()
	out, err := providers.EncodeResponse(resp, apiVersion)
	if err != nil {
		t.Fatalf("EncodeResponse: %v", err)
	}
	return out
}

// save records r and saves out as the answer to the fixture's invocation.
func (f *fixture) save(r *cache.Result, out []byte, d time.Duration) error {
	ctx := replay.WithRecorder(context.Background())
	replay.Record(ctx, r, time.Second)
	return replay.Save(ctx, f.args, f.request, out, d)
}

// lookupKey is the key the front computes for the fixture's invocation of this test binary.
func (f *fixture) lookupKey() string {
	f.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		f.t.Fatal(err)
	}
	fi, err := os.Stat(exe)
	if err != nil {
		f.t.Fatal(err)
	}
	cwd, _ := os.Getwd()
	return replay.Key(fi, f.args, os.Environ(), cwd, f.request)
}

// TestReplayEqualsTheFullPlugin is the contract: at every instant while the entry is fresh,
// the replayed answer is byte for byte what the provider's answer, encoded by the kubelet's
// codecs, would be at that instant; from the fresh time on there is none.
func TestReplayEqualsTheFullPlugin(t *testing.T) {
	passwords := map[string]string{
		"plain":                         "eyJwYXlsb2FkIjoi",
		"quotes and escapes":            `a"b\c</script>&'` + "\u2028\x01",
		"the duration field as a value": `"cacheDuration":"1h0m0s"`,
	}
	offsets := []time.Duration{0, time.Nanosecond, 999 * time.Millisecond, time.Second, 1500 * time.Millisecond,
		time.Hour, 3*time.Hour - time.Second, 3*time.Hour - time.Nanosecond}
	for name, password := range passwords {
		for _, apiVersion := range providers.APIVersions() {
			t.Run(name+"/"+apiVersion, func(t *testing.T) {
				f := newFixture(t)
				r := f.get(password, 6*time.Hour) // fresh for 3h
				out := encode(t, response(r, r.FreshFor), apiVersion)
				if err := f.save(r, out, r.FreshFor.Truncate(time.Second)); err != nil {
					t.Fatalf("Save: %v", err)
				}
				key := f.lookupKey()
				for _, off := range offsets {
					now := t0.Add(off)
					got, ok := replay.Lookup(f.dir, key, now)
					want := encode(t, response(r, r.Stamp.FreshUntil.Sub(now)), apiVersion)
					if !ok || string(got) != string(want) {
						t.Errorf("Lookup at +%s = %q, %v; want %q, true", off, got, ok, want)
					}
				}
				for _, off := range []time.Duration{3 * time.Hour, 3*time.Hour + time.Nanosecond, 24 * time.Hour} {
					if got, ok := replay.Lookup(f.dir, key, t0.Add(off)); ok {
						t.Errorf("Lookup at +%s = %q, want no answer: the entry is no longer fresh", off, got)
					}
				}
			})
		}
	}
}

// TestLookupMisses: an answer is replayed only as it was saved, for the entry as it was.
func TestLookupMisses(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, f *fixture, key string)
	}{
		{name: "entry refreshed", change: func(t *testing.T, f *fixture, key string) {
			f.clock.Set(t0.Add(3 * time.Hour)) // past the fresh time: the next get fetches
			f.get("second-password", 6*time.Hour)
			f.clock.Set(t0)
		}},
		{name: "entry deleted", change: func(t *testing.T, f *fixture, key string) {
			if err := f.cache.Delete(f.key); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "entry file changed", change: func(t *testing.T, f *fixture, key string) {
			name := entryFile(t, f)
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, append(data, ' '), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "answer deleted", change: func(t *testing.T, f *fixture, key string) {
			if err := os.Remove(answerFile(f, key)); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "answer is a symlink", change: func(t *testing.T, f *fixture, key string) {
			name := answerFile(f, key)
			if err := os.Rename(name, name+".real"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(name+".real", name); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "answer renamed to another key", change: func(t *testing.T, f *fixture, key string) {
			other := filepath.Join(f.dir, replay.AnswersDir, "0"+key[1:]+".json")
			if key[0] == '0' {
				other = filepath.Join(f.dir, replay.AnswersDir, "1"+key[1:]+".json")
			}
			if err := os.Rename(answerFile(f, key), other); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/nonexistent", answerFile(f, key)); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "answers directory open to others", change: func(t *testing.T, f *fixture, key string) {
			if err := os.Chmod(filepath.Join(f.dir, replay.AnswersDir), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "answers directory is a symlink", change: func(t *testing.T, f *fixture, key string) {
			answers := filepath.Join(f.dir, replay.AnswersDir)
			if err := os.Rename(answers, answers+".real"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(answers+".real", answers); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "cache directory open to others", change: func(t *testing.T, f *fixture, key string) {
			if err := os.Chmod(f.dir, 0o777); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "answer owned by another user", change: func(t *testing.T, f *fixture, key string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to give a file away")
			}
			if err := os.Chown(answerFile(f, key), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "answer file garbage", change: func(t *testing.T, f *fixture, key string) {
			if err := os.WriteFile(answerFile(f, key), []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.get("first-password", 6*time.Hour)
			out := encode(t, response(r, r.FreshFor), providers.APIVersionV1)
			if err := f.save(r, out, r.FreshFor.Truncate(time.Second)); err != nil {
				t.Fatalf("Save: %v", err)
			}
			key := f.lookupKey()
			if _, ok := replay.Lookup(f.dir, key, t0); !ok {
				t.Fatal("Lookup before the change: no answer")
			}
			tt.change(t, f, key)
			if got, ok := replay.Lookup(f.dir, key, t0); ok {
				t.Errorf("Lookup after the change = %q, want no answer", got)
			}
		})
	}
}

// TestKeyInputs: the answer is for one invocation; any other misses.
func TestKeyInputs(t *testing.T) {
	f := newFixture(t)
	r := f.get("first-password", 6*time.Hour)
	out := encode(t, response(r, r.FreshFor), providers.APIVersionV1)
	if err := f.save(r, out, r.FreshFor.Truncate(time.Second)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if _, ok := replay.Lookup(f.dir, f.lookupKey(), t0); !ok {
		t.Fatal("Lookup of the saved invocation: no answer")
	}
	others := map[string]func(){
		"another image":    func() { f.request = []byte(string(f.request[:len(f.request)-2]) + `2"}`) },
		"another argument": func() { f.args = append(f.args, "--role-arn=arn:aws:iam::123456789012:role/x") },
		"another environment": func() {
			t.Setenv("PULLKEYS_REPLAY_TEST", "1")
		},
	}
	for name, change := range others {
		saved := *f
		change()
		if got, ok := replay.Lookup(f.dir, f.lookupKey(), t0); ok {
			t.Errorf("%s: Lookup = %q, want no answer", name, got)
		}
		f.args, f.request = saved.args, saved.request
		os.Unsetenv("PULLKEYS_REPLAY_TEST")
	}
}

// TestSaveRefuses: answers that are not a function of one entry's fresh time are not saved.
func TestSaveRefuses(t *testing.T) {
	f := newFixture(t)
	r := f.get("first-password", 6*time.Hour)
	d := r.FreshFor.Truncate(time.Second)
	out := encode(t, response(r, r.FreshFor), providers.APIVersionV1)
	memory := *r
	memory.Stamp = nil
	tests := []struct {
		name   string
		ctx    func() context.Context
		out    []byte
		d      time.Duration
		wantOK bool
	}{
		{name: "one entry", ctx: recorded(r), out: out, d: d, wantOK: true},
		{name: "no recorder", ctx: context.Background, out: out, d: d},
		{name: "nothing recorded", ctx: recorded(), out: out, d: d},
		{name: "two entries", ctx: recorded(r, r), out: out, d: d},
		{name: "entry not on disk", ctx: recorded(&memory), out: out, d: d},
		{name: "duration not the fresh time left", ctx: recorded(r), out: encode(t, response(r, r.FreshFor-time.Hour), providers.APIVersionV1), d: d - time.Hour},
		{name: "duration not in the answer", ctx: recorded(r), out: encode(t, response(r, r.FreshFor-time.Hour), providers.APIVersionV1), d: d},
		{name: "default duration", ctx: recorded(r), out: encode(t, &providers.Response{CacheKeyType: providers.CacheKeyRegistry}, providers.APIVersionV1), d: d},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := replay.Save(tt.ctx(), f.args, f.request, tt.out, tt.d)
			if tt.wantOK != (err == nil) {
				t.Fatalf("Save error = %v, want ok %v", err, tt.wantOK)
			}
			if !tt.wantOK && !errors.Is(err, replay.ErrNotReplayable) {
				t.Errorf("Save error = %v, want ErrNotReplayable", err)
			}
		})
	}
}

func recorded(rs ...*cache.Result) func() context.Context {
	return func() context.Context {
		ctx := replay.WithRecorder(context.Background())
		for _, r := range rs {
			replay.Record(ctx, r, time.Second)
		}
		return ctx
	}
}

func answerFile(f *fixture, key string) string {
	return filepath.Join(f.dir, replay.AnswersDir, key+".json")
}

func entryFile(t *testing.T, f *fixture) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(f.dir, "*.json"))
	if err != nil || len(m) != 1 {
		t.Fatalf("cache entry files: %v, %v", m, err)
	}
	return m[0]
}

// BenchmarkLookup is the front's work past its start-up on a replay: read and check the answer
// and its cache entry (a 2 KiB password, as ECR's run to), render the answer.
func BenchmarkLookup(b *testing.B) {
	f := newFixture(b)
	r := f.get(strings.Repeat("p", 2048), 12*time.Hour)
	if err := f.save(r, encode(b, response(r, r.FreshFor), providers.APIVersionV1), r.FreshFor.Truncate(time.Second)); err != nil {
		b.Fatal(err)
	}
	key := f.lookupKey()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := replay.Lookup(f.dir, key, t0); !ok {
			b.Fatal("no answer")
		}
	}
}
