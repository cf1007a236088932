package dockercfg

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/replay"
)

const replayConfig = `{"auths":{"registry.example.io":{"username":"u","password":"replay-pass"}}}`

// replayRun runs the plugin as the kubelet would with answers kept in dir, and returns what it
// wrote and what the front would replay to the same invocation now.
func replayRun(t *testing.T, base Options, dir string, args ...string) (stdout, stderr string, replayed []byte, saved bool) {
	t.Helper()
	args = append([]string{"--cache-dir=" + dir}, args...)
	req := request(providers.APIVersionV1, "registry.example.io/team/app")
	var out, errOut bytes.Buffer
	if code := providers.Execute(context.Background(), plugin(base), args, strings.NewReader(req), &out, &errOut); code != 0 {
		t.Fatalf("Execute(%q) = %d, stderr %q", args, code, errOut.String())
	}
	replayed, saved = replay.LookupSelf(dir, args, []byte(req), time.Now())
	return out.String(), errOut.String(), replayed, saved
}

// TestExecuteSavesAnswersForReplay: an answer read from files alone is saved, replayed as it
// was while every file read is unchanged and every file found absent is still absent, and not
// saved when a credential helper, a warning or --no-disk-cache is involved.
func TestExecuteSavesAnswersForReplay(t *testing.T) {
	t.Run("searched file", func(t *testing.T) {
		base, d := isolated(t)
		file := writeFile(t, d.home, ".docker/config.json", []byte(replayConfig), 0o600)
		changes := map[string]func(){
			"content changed": func() {
				writeFile(t, d.home, ".docker/config.json", []byte(strings.Replace(replayConfig, "replay-pass", "other-pass", 1)), 0o600)
			},
			"same size, other content": func() {
				writeFile(t, d.home, ".docker/config.json", []byte(strings.Replace(replayConfig, "replay-pass", "replay-pasS", 1)), 0o600)
			},
			"mode changed":          func() { os.Chmod(file, 0o640) },
			"earlier file appeared": func() { writeFile(t, d.kubelet, "config.json", []byte(replayConfig), 0o600) },
			"file removed":          func() { os.Remove(file) },
		}
		for name, change := range changes {
			t.Run(name, func(t *testing.T) {
				writeFile(t, d.home, ".docker/config.json", []byte(replayConfig), 0o600)
				os.Remove(filepath.Join(d.kubelet, "config.json"))
				dir := t.TempDir()
				stdout, _, replayed, saved := replayRun(t, base, dir, "--kubelet-root-dir="+d.kubelet)
				if !saved || string(replayed) != stdout {
					t.Fatalf("replayed %q (saved %v), want the full plugin's answer %q", replayed, saved, stdout)
				}
				change()
				req := request(providers.APIVersionV1, "registry.example.io/team/app")
				args := []string{"--cache-dir=" + dir, "--kubelet-root-dir=" + d.kubelet}
				if got, ok := replay.LookupSelf(dir, args, []byte(req), time.Now()); ok {
					t.Errorf("after the change, replayed %q; want no answer", got)
				}
			})
		}
	})

	t.Run("mounted secret directory", func(t *testing.T) {
		base, _ := isolated(t)
		secret := t.TempDir()
		writeFile(t, secret, DockerConfigJSONName, []byte(replayConfig), 0o600)
		dir := t.TempDir()
		stdout, _, replayed, saved := replayRun(t, base, dir, "--config="+secret)
		if !saved || string(replayed) != stdout {
			t.Fatalf("replayed %q (saved %v), want the full plugin's answer %q", replayed, saved, stdout)
		}
		// A file the directory did not hold, which would now be read, ends the replay.
		writeFile(t, secret, DockercfgName, []byte(`{}`), 0o600)
		req := request(providers.APIVersionV1, "registry.example.io/team/app")
		if got, ok := replay.LookupSelf(dir, []string{"--cache-dir=" + dir, "--config=" + secret}, []byte(req), time.Now()); ok {
			t.Errorf("after %s appeared, replayed %q; want no answer", DockercfgName, got)
		}
	})

	notSaved := []struct {
		name  string
		setup func(t *testing.T, base *Options, d searchDirs) []string
	}{
		{name: "credential helper", setup: func(t *testing.T, base *Options, d searchDirs) []string {
			writeFile(t, d.home, ".docker/config.json", []byte(`{"auths":{"registry.example.io":{}},"credsStore":"fake"}`), 0o600)
			base.Helper = HelperFunc(func(context.Context, string, string) (string, string, error) { return "u", "helper-pass", nil })
			return nil
		}},
		{name: "warning: file open to others", setup: func(t *testing.T, base *Options, d searchDirs) []string {
			writeFile(t, d.home, ".docker/config.json", []byte(replayConfig), 0o644)
			return nil
		}},
		{name: "warning: no docker config", setup: func(t *testing.T, base *Options, d searchDirs) []string { return nil }},
		{name: "no disk cache", setup: func(t *testing.T, base *Options, d searchDirs) []string {
			writeFile(t, d.home, ".docker/config.json", []byte(replayConfig), 0o600)
			return []string{"--no-disk-cache"}
		}},
		{name: "logs asked for", setup: func(t *testing.T, base *Options, d searchDirs) []string {
			writeFile(t, d.home, ".docker/config.json", []byte(replayConfig), 0o600)
			return []string{"-v=1"}
		}},
	}
	for _, tt := range notSaved {
		t.Run(tt.name, func(t *testing.T) {
			base, d := isolated(t)
			args := append([]string{"--kubelet-root-dir=" + d.kubelet}, tt.setup(t, &base, d)...)
			dir := t.TempDir()
			if _, _, replayed, saved := replayRun(t, base, dir, args...); saved {
				t.Errorf("answer saved for replay (%q); want none", replayed)
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, replay.AnswersDir)); len(ents) != 0 {
				t.Errorf("answers directory holds %d files, want none", len(ents))
			}
		})
	}
}
