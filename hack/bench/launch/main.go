//go:build linux

// Command launch runs one program and reports its wall time and peak RSS: hack/bench starts
// every measured process through it.
//
//	launch [-probe] [NAME=value…] -- program [args…]
//
// The program gets exactly the NAME=value environment given (the launcher's own is not passed
// on, so that GODEBUG or GOGC set for the program do not change the launcher), and the
// launcher's stdin, stdout and stderr. When it has exited, the launcher writes one line on
// file descriptor 3:
//
//	<wall ns> <ru_maxrss KiB> <exit status> <VmHWM KiB> <RssAnon KiB> <RssFile KiB> <CPU ns>
//
// CPU is the program's user and system time. VmHWM, RssAnon and RssFile are 0 unless -probe
// is given: the program then runs under ptrace, stopped
// once as it exits (PTRACE_O_TRACEEXIT) while its memory is still mapped, for its
// /proc/<pid>/status. RssFile is the part of its resident memory that maps files, mostly its
// own binary, shared through the page cache with every other process running it; RssAnon is
// its private memory. The stops make -probe runs slower: they are not timed.
//
// Why a launcher: Go starts processes with vfork (CLONE_VM), and when the child calls exec
// Linux records the resident size of the memory it shared, its parent's, in the child's
// ru_maxrss. Started from the harness, with its fakes and buffers, every process would seem to
// use the harness's 13 MiB. Started from this program, whose resident size is under 2 MiB,
// ru_maxrss is the program's own peak, or this program's size for a smaller program: the
// lowest figure this method can report.
package main

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	syscall.CloseOnExec(3) // the report pipe is the launcher's, not the program's
	args := os.Args[1:]
	probe := len(args) > 0 && args[0] == "-probe"
	if probe {
		args = args[1:]
		runtime.LockOSThread() // ptrace requests must come from the thread that forked
	}
	var env []string
	for len(args) > 0 && args[0] != "--" {
		env, args = append(env, args[0]), args[1:]
	}
	if len(args) < 2 {
		fail("usage: launch [-probe] [NAME=value…] -- program [args…]")
	}
	args = args[1:]
	start := time.Now()
	pid, err := syscall.ForkExec(args[0], args, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Ptrace: probe},
	})
	if err != nil {
		fail("launch: " + err.Error())
	}
	var (
		ws  syscall.WaitStatus
		ru  syscall.Rusage
		mem [3]int64 // VmHWM, RssAnon, RssFile
	)
	for {
		_, err = syscall.Wait4(pid, &ws, 0, &ru)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || !ws.Stopped() {
			break
		}
		// Only under -probe: the stop after exec, the exit stop, and signals to pass on.
		sig := ws.StopSignal()
		switch {
		case sig == syscall.SIGTRAP && ws.TrapCause() == syscall.PTRACE_EVENT_EXIT:
			mem = status(pid)
			sig = 0
		case sig == syscall.SIGTRAP:
			if err := syscall.PtraceSetOptions(pid, syscall.PTRACE_O_TRACEEXIT); err != nil {
				fail("launch: ptrace: " + err.Error())
			}
			sig = 0
		}
		if err := syscall.PtraceCont(pid, int(sig)); err != nil {
			fail("launch: ptrace: " + err.Error())
		}
	}
	wall := time.Since(start)
	if err != nil {
		fail("launch: wait: " + err.Error())
	}
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fields := []int64{int64(wall), ru.Maxrss, int64(code), mem[0], mem[1], mem[2], int64(cpu)}
	var b []byte
	for i, f := range fields {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, f, 10)
	}
	if _, err := syscall.Write(3, append(b, '\n')); err != nil {
		fail("launch: report: " + err.Error())
	}
}

// status reads VmHWM, RssAnon and RssFile (KiB) from /proc/<pid>/status.
func status(pid int) (mem [3]int64) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return mem
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), ":")
		i := map[string]int{"VmHWM": 0, "RssAnon": 1, "RssFile": 2}
		if k, ok := i[name]; ok {
			mem[k], _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		}
	}
	return mem
}

func fail(msg string) {
	os.Stderr.WriteString(msg + "\n")
	os.Exit(2)
}
