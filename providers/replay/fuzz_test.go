package replay

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/cache"
)

// FuzzLookup: whatever the answer file holds, Lookup does not panic, and what it replays is
// the saved head and tail around a duration, before the fresh time only.
func FuzzLookup(f *testing.F) {
	entry := []byte(`{"version":1,"key":"k","auth":{}}`)
	sum := sha256.Sum256(entry)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	valid, _ := json.Marshal(answerFile{Version: formatVersion, Key: strings.Repeat("a", 64),
		Head: `{"cacheDuration":"`, Tail: `"}` + "\n", Entry: "e.json", Digest: hex.EncodeToString(sum[:]),
		FreshUntil: t0.Add(time.Hour), Truncate: time.Second})
	f.Add(valid, int64(0))
	f.Add(valid, int64(time.Hour))
	f.Add([]byte(`{"version":1,"key":"`+strings.Repeat("a", 64)+`","entry":"../e.json"}`), int64(0))
	f.Add([]byte(`{"truncate":-1}`), int64(-1))
	dir := f.TempDir()
	if err := os.Mkdir(filepath.Join(dir, AnswersDir), 0o700); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "e.json"), entry, 0o600); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, answer []byte, offset int64) {
		key := strings.Repeat("a", 64)
		if err := os.WriteFile(filepath.Join(dir, AnswersDir, key+".json"), answer, 0o600); err != nil {
			t.Fatal(err)
		}
		now := t0.Add(time.Duration(offset))
		out, ok := Lookup(dir, key, now)
		if !ok {
			return
		}
		var a answerFile
		if err := json.Unmarshal(answer, &a); err != nil {
			t.Fatalf("Lookup replayed an answer that does not decode: %v", err)
		}
		if !now.Before(a.FreshUntil) || !bytes.HasPrefix(out, []byte(a.Head)) || !bytes.HasSuffix(out, []byte(a.Tail)) ||
			a.Entry != "e.json" {
			t.Fatalf("Lookup(%s) = %q for answer %+v", now, out, a)
		}
	})
}

// FuzzCacheDir: the front finds the cache directory among the arguments or the default, and
// never panics.
func FuzzCacheDir(f *testing.F) {
	f.Add("--cache-dir=/c\x00-v=2")
	f.Add("--cache-dir\x00/c")
	f.Add("--no-disk-cache=false\x00-cache-dir=")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		got := cacheDir(args)
		if got == "" || got == cache.DefaultDir() {
			return
		}
		for _, a := range args {
			if a == got || strings.HasSuffix(a, "="+got) {
				return
			}
		}
		t.Fatalf("cacheDir(%q) = %q, not an argument's value", args, got)
	})
}
