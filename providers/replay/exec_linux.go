package replay

import (
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// runFull replaces this process with the full plugin, the request on its stdin in a memory
// file. It returns only if that cannot be done, after running the full plugin as a child
// instead.
func runFull(full string, args, env []string, request []byte, stdout, stderr io.Writer) (int, error) {
	if fd, err := requestFile(request); err == nil {
		err = syscall.Exec(full, append([]string{full}, args...), env)
		unix.Close(fd)
		if err != nil {
			return 0, err
		}
	}
	return runChild(full, args, env, request, stdout, stderr)
}

// requestFile puts request on standard input as a memory file read from its start.
func requestFile(request []byte) (int, error) {
	fd, err := unix.MemfdCreate("request", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, err
	}
	f := os.NewFile(uintptr(fd), "request")
	if _, err := f.Write(request); err != nil {
		f.Close()
		return -1, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return -1, err
	}
	if fd == 0 { // stdin was closed: the memory file is stdin already, keep it across exec
		_, err = unix.FcntlInt(0, unix.F_SETFD, 0)
	} else { // the copy dup3 makes stays open across exec
		err = unix.Dup3(fd, 0, 0)
	}
	if err != nil {
		f.Close()
		return -1, err
	}
	return fd, nil
}
