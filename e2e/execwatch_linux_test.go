package e2e

import (
	"testing"

	"github.com/pullkeys/pullkeys/providers/replay/replaytest"
)

// execWatch counts the runs of a front and its full plugin (replaytest.Runs: inotify, which
// leaves the files' identity, part of the replay key, alone). Take after each run.
type execWatch struct {
	t    *testing.T
	runs *replaytest.Runs
}

// watchExecs watches paths until the end of the test.
func watchExecs(t *testing.T, paths ...string) *execWatch {
	t.Helper()
	runs, err := replaytest.NewRuns()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runs.Close() })
	for _, p := range paths {
		if err := runs.Watch(p); err != nil {
			t.Fatal(err)
		}
	}
	return &execWatch{t: t, runs: runs}
}

// take returns the runs of path since the last take of it (0 or 1, see replaytest).
func (w *execWatch) take(path string) int {
	w.t.Helper()
	n, err := w.runs.Take(path)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}
