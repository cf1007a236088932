package plugintest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) { Main(m, fake) }

// fake prints its mode, arguments, standard input and $GORACE on stdout and exits with the
// status $FAKE_EXIT names (0 when unset).
func fake(mode string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	in, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "mode=%s args=%q stdin=%q GORACE=%q\n", mode, args, in, os.Getenv("GORACE"))
	code := 0
	if s := os.Getenv("FAKE_EXIT"); s != "" {
		if _, err := fmt.Sscan(s, &code); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	return code
}

func TestMainRunsTheFakeUnderItsLinkName(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		args     []string
		stdin    string
		exit     string // $FAKE_EXIT
		wantCode int
	}{
		{name: "mode, arguments and stdin reach the fake", mode: "ok", args: []string{"--auth", "docker.io=u:p"}, stdin: `{"image":"nginx"}`},
		{name: "a mode with a dash", mode: "wrong-version", args: []string{}},
		{name: "the fake's exit status is the process's", mode: "fail", args: []string{}, exit: "3", wantCode: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("FAKE_EXIT", tt.exit)
			cmd := exec.Command(Binary(t, tt.mode), tt.args...)
			cmd.Stdin = strings.NewReader(tt.stdin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if exitErr := (*exec.ExitError)(nil); errors.As(err, &exitErr) {
				code = exitErr.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || stderr.Len() != 0 {
				t.Fatalf("%s: exit %d, stderr %q; want exit %d, nothing on stderr", Prefix+tt.mode, code, stderr.String(), tt.wantCode)
			}
			want := fmt.Sprintf("mode=%s args=%q stdin=%q GORACE=%q\n", tt.mode, tt.args, tt.stdin, os.Getenv("GORACE"))
			if diff := cmp.Diff(want, stdout.String()); diff != "" {
				t.Errorf("%s stdout (-want +got):\n%s", Prefix+tt.mode, diff)
			}
			if !strings.Contains(os.Getenv("GORACE"), "atexit_sleep_ms") {
				t.Errorf("GORACE = %q, want atexit_sleep_ms set for the plugins", os.Getenv("GORACE"))
			}
		})
	}
}

func TestBinDirLinksEachMode(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := BinDir(t, "ok", "fail")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || target != self {
			t.Errorf("%s links to %q (%v), want the test binary %q", e.Name(), target, err, self)
		}
	}
	if diff := cmp.Diff([]string{Prefix + "fail", Prefix + "ok"}, names); diff != "" {
		t.Errorf("BinDir(ok, fail) holds (-want +got):\n%s", diff)
	}
}

func TestAuthFlag(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want AuthFlag
	}{
		{name: "none", args: nil, want: AuthFlag{}},
		{name: "one", args: []string{"--auth=docker.io=user:password"}, want: AuthFlag{"docker.io": {Username: "user", Password: "password"}}},
		{name: "password holds colons", args: []string{"--auth=*.example.io=u:p:q"}, want: AuthFlag{"*.example.io": {Username: "u", Password: "p:q"}}},
		{name: "later flag for a key wins", args: []string{"--auth=quay.io=a:1", "--auth=ghcr.io=b:2", "--auth=quay.io=c:3"},
			want: AuthFlag{"quay.io": {Username: "c", Password: "3"}, "ghcr.io": {Username: "b", Password: "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AuthFlag{}
			fs := flag.NewFlagSet("fake", flag.ContinueOnError)
			fs.Var(got, "auth", "KEY=USER:PASSWORD")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("--auth %q (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}
