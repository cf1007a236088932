//go:build unix

package cache

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The multi-process tests run this test binary again as plugin processes: TestHelperProcess
// does what helperModeEnv says, against the directory in helperDirEnv, with the real clock.
const (
	helperModeEnv  = "PULLKEYS_CACHE_HELPER"
	helperDirEnv   = "PULLKEYS_CACHE_HELPER_DIR"
	helperCountEnv = "PULLKEYS_CACHE_HELPER_COUNT" // file the fetch appends a line to per call
)

var helperKey = NewKey("helper", registry)

func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperModeEnv)
	if mode == "" {
		t.Skip("run by other tests as a separate process")
	}
	if err := runHelper(mode, os.Getenv(helperDirEnv), os.Getenv(helperCountEnv)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runHelper is a plugin process. Modes:
//
//	once  wait for stdin to close, GetOrFetch once and print "source user password"
//	hang  GetOrFetch with a fetch that prints "fetching" and never returns
//	loop  forever: Delete, GetOrFetch, print "done"
//	half  take the lock, write half an entry to a temporary file as writeFile does, print
//	      "writing" and wait: a writer frozen in the middle of a write
func runHelper(mode, dir, countFile string) error {
	ctx := context.Background()
	c := New(Options{Dir: dir, LockPoll: time.Millisecond})
	user := fmt.Sprintf("pid-%d", os.Getpid())
	fetch := func(context.Context) (*Entry, error) {
		f, err := os.OpenFile(countFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if _, err := fmt.Fprintln(f, user); err != nil {
			return nil, err
		}
		return newEntry(user, time.Now(), lifetime), nil
	}
	switch mode {
	case "once":
		if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
			return err
		}
		slowFetch := func(ctx context.Context) (*Entry, error) {
			// Not a timing assertion: holding the lock a while makes the others queue on it
			// rather than find the file already written.
			time.Sleep(100 * time.Millisecond)
			return fetch(ctx)
		}
		r, err := c.GetOrFetch(ctx, helperKey, slowFetch)
		if err != nil {
			return err
		}
		cred := r.Entry.Auth[registry]
		fmt.Println(r.Source, cred.Username, cred.Password)
	case "hang":
		_, err := c.GetOrFetch(ctx, helperKey, func(context.Context) (*Entry, error) {
			fmt.Println("fetching")
			select {}
		})
		return err
	case "loop":
		for {
			if err := c.Delete(helperKey); err != nil {
				return err
			}
			if _, err := c.GetOrFetch(ctx, helperKey, fetch); err != nil {
				return err
			}
			fmt.Println("done")
		}
	case "half":
		base := filepath.Join(dir, helperKey.hash())
		if ok, err := newLock(base).TryLock(); !ok {
			return fmt.Errorf("lock: %v", err)
		}
		data, err := encodeEntry(helperKey.enc, newEntry(user, time.Now(), lifetime))
		if err != nil {
			return err
		}
		f, err := os.CreateTemp(dir, filepath.Base(base)+".json"+tmpInfix+"*")
		if err != nil {
			return err
		}
		if _, err := f.Write(data[:len(data)/2]); err != nil {
			return err
		}
		fmt.Println("writing")
		select {}
	default:
		return fmt.Errorf("unknown helper mode %q", mode)
	}
	return nil
}

// helper returns a command running TestHelperProcess in mode against dir.
func helper(t *testing.T, mode, dir, countFile string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperModeEnv+"="+mode, helperDirEnv+"="+dir, helperCountEnv+"="+countFile)
	cmd.Stderr = &bytes.Buffer{}
	return cmd
}

func lines(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}

// TestMultiProcess starts 50 plugin processes at once on one cold key: the fetch runs once
// and all of them print the same credentials.
func TestMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50 processes")
	}
	dir, countFile := t.TempDir(), filepath.Join(t.TempDir(), "count")
	cmds := make([]*exec.Cmd, 50)
	stdins := make([]io.WriteCloser, len(cmds))
	for i := range cmds {
		cmds[i] = helper(t, "once", dir, countFile)
		cmds[i].Stdout = &bytes.Buffer{}
		var err error
		if stdins[i], err = cmds[i].StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range stdins { // start line: every process is up
		w.Close()
	}
	sources := map[string]int{}
	creds := map[string]int{}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v; stderr:\n%s", i, err, cmd.Stderr)
		}
		source, cred, _ := strings.Cut(strings.TrimSpace(cmd.Stdout.(*bytes.Buffer).String()), " ")
		sources[source]++
		creds[cred]++
	}
	if got := lines(t, countFile); len(got) != 1 {
		t.Errorf("fetch ran %d times (%q), want once", len(got), got)
	}
	if len(creds) != 1 {
		t.Errorf("processes printed %d different credentials, want 1: %v", len(creds), creds)
	}
	if want := map[string]int{"fetched": 1, "disk": 49}; !cmp.Equal(want, sources) {
		t.Errorf("sources = %v, want %v", sources, want)
	}
}

// TestKilledHoldingLock kills (SIGKILL) a process holding the key's lock, in its fetch or in
// the middle of writing the entry: the next process must not wait for the dead one, must not
// read the partial write, and must clean it up.
func TestKilledHoldingLock(t *testing.T) {
	tests := []struct {
		name, mode, line string
	}{
		{name: "while fetching", mode: "hang", line: "fetching"},
		{name: "while writing", mode: "half", line: "writing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, countFile := t.TempDir(), filepath.Join(t.TempDir(), "count")
			cmd := helper(t, tt.mode, dir, countFile)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if line, err := bufio.NewReader(out).ReadString('\n'); line != tt.line+"\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper printed %q, %v, want %s; stderr:\n%s", line, err, tt.line, cmd.Stderr)
			}
			base := filepath.Join(dir, helperKey.hash())
			if ok, _ := newLock(base).TryLock(); ok {
				t.Fatal("the helper does not hold the lock")
			}
			cmd.Process.Kill()
			cmd.Wait()

			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			h := newHarness(t, dir)
			r, err := h.cache().GetOrFetch(ctx, helperKey, h.fetchOK("next", lifetime))
			if err != nil || r.Source != Fetched {
				t.Fatalf("GetOrFetch(%v) after the lock holder died = %v, %v, want source %v", helperKey, r, err, Fetched)
			}
			want := []string{helperKey.hash() + ".json", helperKey.hash() + ".lock"}
			if diff := cmp.Diff(want, snapshotNames(t, dir)); diff != "" {
				t.Errorf("files after the next fetch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKilledAtRandomPoints kills (SIGKILL) processes at random points of a loop of fetches
// and writes: the next process reads a whole entry or fetches a new one, and leftovers are
// cleaned up.
func TestKilledAtRandomPoints(t *testing.T) {
	dir, countFile := t.TempDir(), filepath.Join(t.TempDir(), "count")
	rounds := 10
	if testing.Short() {
		rounds = 2
	}
	for round := range rounds {
		cmd := helper(t, "loop", dir, countFile)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		for range 1 + rand.IntN(20) {
			if _, err := r.ReadString('\n'); err != nil {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: helper: %v; stderr:\n%s", round, err, cmd.Stderr)
			}
		}
		cmd.Process.Kill()
		cmd.Wait()

		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		h := newHarness(t, dir)
		h.clock.Set(time.Now())
		c := h.cache()
		got, err := c.GetOrFetch(ctx, helperKey, h.fetchOK("next", lifetime))
		cancel()
		if err != nil {
			t.Fatalf("round %d: GetOrFetch(%v) after a kill: %v", round, helperKey, err)
		}
		switch user := got.Entry.Auth[registry].Username; {
		case got.Source == Fetched && user == "next":
		case got.Source == Disk && strings.HasPrefix(user, "pid-"):
		default:
			t.Fatalf("round %d: GetOrFetch(%v) after a kill = %v from %v, want a fetch or a helper's entry from disk", round, helperKey, user, got.Source)
		}
		c.prune()
		for _, name := range snapshotNames(t, dir) {
			if strings.Contains(name, tmpInfix) {
				t.Errorf("round %d: %s left after prune", round, name)
			}
		}
		if err := c.Delete(helperKey); err != nil {
			t.Fatal(err)
		}
	}
}

func snapshotNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != pruneMark {
			names = append(names, e.Name())
		}
	}
	return names
}
