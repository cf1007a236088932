//go:build unix

package dockercfg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeHelpers writes small docker-credential-<name> shell scripts into a directory put first
// on $PATH, and returns that directory. Each script speaks the helper protocol the way real
// helpers do, or misbehaves in one way. {{DIR}} in a script is the directory.
func fakeHelpers(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	scripts := map[string]string{
		// Echoes the server URL it read on stdin, and chats on stderr as helpers do.
		"ok": `[ "$1" = get ] || { echo "unexpected action $1" >&2; exit 3; }
server=$(cat)
printf '{"ServerURL":"%s","Username":"user-for-%s","Secret":"helper-secret-ok"}\n' "$server" "$server"
echo "helper chatter on stderr" >&2`,
		"notfound": `cat >/dev/null
echo "credentials not found in native keychain"
exit 1`,
		"fail": `cat >/dev/null
echo "failure text that may hold helper-secret-fail"
echo "more on stderr" >&2
exit 2`,
		"token": `cat >/dev/null
printf '{"ServerURL":"x","Username":"<token>","Secret":"helper-secret-token"}'`,
		"badjson": `cat >/dev/null
echo 'Username: helper-secret-badjson'`,
		"empty": `cat >/dev/null`,
		"huge":  `cat >/dev/null; head -c 100000 /dev/zero | tr '\0' 'x'`,
		"emptyanswer": `cat >/dev/null
printf '{"ServerURL":"x","Username":"","Secret":""}'`,
		// Never answers: its child writes its pid and sleeps; both must die on timeout.
		"hang": `sleep 60 &
echo $! > "{{DIR}}/hang.pid"
wait`,
		// Never answers: its child leaves the process group (setsid), writes its pid and
		// sleeps; it must die on timeout too.
		"hangsetsid": `setsid sh -c 'echo $$ > "{{DIR}}/hangsetsid.pid"; exec sleep 60' &
wait`,
		// Answers and exits, leaving a child in a session of its own that holds stdout open.
		"bgsetsid": `cat >/dev/null
setsid sh -c 'echo $$ > "{{DIR}}/bgsetsid.pid"; exec sleep 60' &
while [ ! -s "{{DIR}}/bgsetsid.pid" ]; do sleep 0.01; done
printf '{"ServerURL":"x","Username":"bg-user","Secret":"helper-secret-bg"}'`,
		// Answers and exits, leaving a child that holds stdout open.
		"background": `cat >/dev/null
sleep 60 &
echo $! > "{{DIR}}/background.pid"
printf '{"ServerURL":"x","Username":"bg-user","Secret":"helper-secret-bg"}'`,
	}
	for name, body := range scripts {
		body = strings.ReplaceAll(body, "{{DIR}}", dir)
		path := filepath.Join(dir, HelperPrefix+name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

func TestExecHelper(t *testing.T) {
	dir := fakeHelpers(t)
	tests := []struct {
		name       string
		helper     string
		server     string
		timeout    time.Duration
		wantUser   string
		wantSecret string
		wantErr    error
		wantMsg    string // substring of the error
		pidFile    string // a child whose process must be gone afterwards
	}{
		{name: "success, server URL on stdin", helper: "ok", server: "registry.example.io",
			wantUser: "user-for-registry.example.io", wantSecret: "helper-secret-ok"},
		{name: "Docker Hub key passed as written", helper: "ok", server: "https://index.docker.io/v1/",
			wantUser: "user-for-https://index.docker.io/v1/", wantSecret: "helper-secret-ok"},
		{name: "identity token marker passed through", helper: "token", server: "r.example.io",
			wantUser: "<token>", wantSecret: "helper-secret-token"},
		{name: "not found", helper: "notfound", server: "r.example.io", wantErr: ErrCredentialsNotFound},
		{name: "empty answer is not found", helper: "emptyanswer", server: "r.example.io", wantErr: ErrCredentialsNotFound},
		{name: "failure names the exit status, not the output", helper: "fail", server: "r.example.io",
			wantErr: ErrHelperFailed, wantMsg: "docker-credential-fail get for r.example.io: credential helper failed: exit status 2"},
		{name: "output that is not JSON", helper: "badjson", server: "r.example.io",
			wantErr: ErrHelperFailed, wantMsg: "not the helper protocol's JSON"},
		{name: "no output", helper: "empty", server: "r.example.io",
			wantErr: ErrHelperFailed, wantMsg: "not the helper protocol's JSON"},
		{name: "too much output", helper: "huge", server: "r.example.io",
			wantErr: ErrHelperFailed, wantMsg: "more than 65536 bytes"},
		{name: "not installed", helper: "missing", server: "r.example.io",
			wantErr: ErrHelperNotInstalled, wantMsg: "docker-credential-missing get for r.example.io: credential helper not installed (not on $PATH)"},
		{name: "a name that is a path is refused", helper: "../ok", server: "r.example.io",
			wantErr: ErrHelperFailed, wantMsg: "invalid helper name"},
		{name: "hang past the timeout: killed with its children", helper: "hang", server: "r.example.io",
			timeout: 300 * time.Millisecond, wantErr: ErrHelperTimeout, pidFile: "hang.pid"},
		{name: "child left holding stdout: answer kept, child killed", helper: "background", server: "r.example.io",
			wantUser: "bg-user", wantSecret: "helper-secret-bg", pidFile: "background.pid"},
		// A child that calls setsid leaves the process group (issue 20, 4.7).
		{name: "hang past the timeout: a setsid child killed too", helper: "hangsetsid", server: "r.example.io",
			timeout: 300 * time.Millisecond, wantErr: ErrHelperTimeout, pidFile: "hangsetsid.pid"},
		{name: "setsid child left holding stdout: answer kept, child killed", helper: "bgsetsid", server: "r.example.io",
			wantUser: "bg-user", wantSecret: "helper-secret-bg", pidFile: "bgsetsid.pid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &ExecHelper{Timeout: tt.timeout, WaitDelay: 100 * time.Millisecond}
			if h.Timeout == 0 {
				h.Timeout = time.Minute
			}
			user, secret, err := h.Get(context.Background(), tt.helper, tt.server)
			// A helper killed on its timeout before it started its child (the shell slow to
			// start under load) leaves no child to check: run it again with twice the time,
			// until the kill lands while the child runs. The last run is checked as usual.
			for tt.pidFile != "" && errors.Is(err, ErrHelperTimeout) && h.Timeout < 10*time.Second {
				if _, statErr := os.Stat(filepath.Join(dir, tt.pidFile)); statErr == nil {
					break
				}
				h.Timeout *= 2
				user, secret, err = h.Get(context.Background(), tt.helper, tt.server)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(fmt.Sprint(err), tt.wantMsg) {
					t.Errorf("Get(%q, %q) = %q, %q, %v, want error %v containing %q", tt.helper, tt.server, user, secret, err, tt.wantErr, tt.wantMsg)
				}
				if err != nil && strings.Contains(err.Error(), "helper-secret") {
					t.Errorf("Get(%q, %q) error %q quotes the helper's output", tt.helper, tt.server, err)
				}
			} else if err != nil || user != tt.wantUser || secret != tt.wantSecret {
				t.Errorf("Get(%q, %q) = %q, %q, %v, want %q, %q, nil", tt.helper, tt.server, user, secret, err, tt.wantUser, tt.wantSecret)
			}
			if tt.pidFile != "" {
				waitGone(t, filepath.Join(dir, tt.pidFile))
			}
		})
	}
}

func TestExecHelperCanceled(t *testing.T) {
	fakeHelpers(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := &ExecHelper{Timeout: time.Minute}
	_, _, err := h.Get(ctx, "hang", "r.example.io")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrHelperTimeout) {
		t.Errorf("Get(canceled context) error %v, want context.Canceled", err)
	}
}

// waitGone waits until the process whose pid is in pidFile has exited (or is a zombie
// waiting for its reaper). It is bounded generously; it does not measure time.
func waitGone(t *testing.T, pidFile string) {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the helper wrote no pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %q: %v", data, err)
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc to check processes in")
	}
	for range 1000 {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return // gone
		}
		// The state follows the ")" that ends the command name.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && len(stat) > i+2 && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("the helper's child %d is still running", pid)
}

// TestExecHelperLogsWhatItKilled: the log names the processes killed, and they are gone: it
// claims nothing that did not happen (issue 20, 4.7: a setsid child survived while the log
// said it was killed).
func TestExecHelperLogsWhatItKilled(t *testing.T) {
	dir := fakeHelpers(t)
	tests := []struct {
		name    string
		helper  string
		timeout time.Duration
		wantLog string
	}{
		{name: "timed out", helper: "hangsetsid", timeout: 300 * time.Millisecond, wantLog: "credential helper timed out; killed"},
		{name: "output held after exit", helper: "bgsetsid", timeout: time.Minute, wantLog: "left a process holding its output; killed it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(dir, tt.helper+".pid")
			os.Remove(pidFile)
			var logs strings.Builder
			h := &ExecHelper{Timeout: tt.timeout, WaitDelay: 100 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			_, _, err := h.Get(context.Background(), tt.helper, "r.example.io")
			for errors.Is(err, ErrHelperTimeout) && h.Timeout < 10*time.Second {
				if _, statErr := os.Stat(pidFile); statErr == nil {
					break
				}
				logs.Reset()
				h.Timeout *= 2
				_, _, err = h.Get(context.Background(), tt.helper, "r.example.io")
			}
			waitGone(t, pidFile)
			data, _ := os.ReadFile(pidFile)
			pid := strings.TrimSpace(string(data))
			got := logs.String()
			if !strings.Contains(got, tt.wantLog) || !regexp.MustCompile(`pids="?\[[^\]]*\b`+pid+`\b`).MatchString(got) {
				t.Errorf("Get(%q) logged:\n%s\nwant %q naming pid %s", tt.helper, got, tt.wantLog, pid)
			}
			if strings.Contains(got, "could not") {
				t.Errorf("Get(%q) logged a survivor:\n%s", tt.helper, got)
			}
		})
	}
}
