//go:build unix

package dockercfg

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// isolate runs cmd in a process group of its own, and makes a timeout call kill (which kills
// the whole group and the helper's other descendants) instead of killing the helper alone.
func isolate(cmd *exec.Cmd, kill func()) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		kill()
		return nil
	}
}

// killGroup kills whatever is left in cmd's process group once cmd has been waited for.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil && cmd.Process.Pid > 0 {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// pipeInode returns the inode of a pipe, by which the processes holding it are found in /proc.
func pipeInode(f *os.File) uint64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

// killTree kills the helper pid's process group, its descendants (a child that called setsid
// has left the group but is still a descendant while its parent lives) and every process
// holding one of the pipes (a descendant orphaned when its parent exited, setsid or not). The
// last two need Linux's /proc. It returns the pids it signalled besides the group and those
// of them still running (not even a zombie) after a short wait: what could not be killed.
// pid is 0 once the helper has been waited for (its pid may then be another process's), and
// only its group (pgid) and the pipes' holders are then killed.
func killTree(pid, pgid int, pipes []uint64) (signalled, survivors []int) {
	targets := map[int]bool{}
	if runtime.GOOS == "linux" {
		for _, p := range descendants(pid) {
			targets[p] = true
		}
		for _, p := range pipeHolders(pipes) {
			targets[p] = true
		}
	}
	delete(targets, os.Getpid())
	if pgid > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	if pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for p := range targets {
		if syscall.Kill(p, syscall.SIGKILL) == nil {
			signalled = append(signalled, p)
		}
	}
	// SIGKILL is delivered at once, but a process dies when it is next scheduled: look a few
	// times before calling one a survivor. Bounded; nothing here measures time.
	for i := 0; i < 50; i++ {
		survivors = survivors[:0]
		for _, p := range signalled {
			if running(p) {
				survivors = append(survivors, p)
			}
		}
		if len(survivors) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return signalled, survivors
}

// running reports whether pid is a process that has not exited (a zombie has).
func running(pid int) bool {
	if runtime.GOOS != "linux" {
		return syscall.Kill(pid, 0) == nil
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, state, ok := procStat(string(stat))
	return ok && state != 'Z' && state != 'X'
}

// procStat returns the ppid and state of a /proc/<pid>/stat line.
func procStat(stat string) (ppid int, state byte, ok bool) {
	i := strings.LastIndexByte(stat, ')') // the command name may hold anything
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, f[0][0], err == nil
}

// pids lists the numeric entries of /proc.
func pids() []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var out []int
	for _, n := range names {
		if p, err := strconv.Atoi(n); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// descendants returns the processes below pid in the process tree, as /proc shows it now.
func descendants(pid int) []int {
	if pid <= 0 {
		return nil
	}
	children := map[int][]int{}
	for _, p := range pids() {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(string(stat)); ok {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// pipeHolders returns the processes with an open file descriptor on one of the pipes.
func pipeHolders(pipes []uint64) []int {
	want := map[string]bool{}
	for _, ino := range pipes {
		if ino != 0 {
			want["pipe:["+strconv.FormatUint(ino, 10)+"]"] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	var out []int
	for _, p := range pids() {
		dir := "/proc/" + strconv.Itoa(p) + "/fd"
		d, err := os.Open(dir)
		if err != nil {
			continue
		}
		fds, _ := d.Readdirnames(-1)
		d.Close()
		for _, fd := range fds {
			if link, err := os.Readlink(filepath.Join(dir, fd)); err == nil && want[link] {
				out = append(out, p)
				break
			}
		}
	}
	return out
}
