package replay

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io/fs"
	"strings"
)

// keyVersion changes whenever what an answer depends on, or how it is saved, changes.
const keyVersion = "pullkeys-replay-v1"

// Key names the answer to one invocation of the full plugin whose file is exe: the file's
// identity (device, inode, size, modification and change times where the system has them),
// the arguments (without the program name), the environment in its order (less the variables
// of volatileEnv), the working directory and the request bytes. Each part is length-prefixed,
// so no two invocations share a key unless all of these are equal. The key is the hex SHA-256
// of them: the environment may hold secrets, the key does not reveal them.
func Key(exe fs.FileInfo, args, env []string, cwd string, request []byte) string {
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	putList := func(list []string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(list)))
		h.Write(n[:])
		for _, s := range list {
			put([]byte(s))
		}
	}
	put([]byte(keyVersion))
	put(fileIdentity(exe))
	putList(args)
	putList(stableEnv(env))
	put([]byte(cwd))
	put(request)
	return hex.EncodeToString(h.Sum(nil))
}

// volatileEnv are the variables a service manager sets to tell one start of the kubelet from
// the next (systemd's, see systemd.exec(5)). No plugin reads them, so they do not change an
// answer; left in the key, they would end every replay at each restart of the kubelet.
var volatileEnv = map[string]bool{
	"INVOCATION_ID": true, "JOURNAL_STREAM": true, "SYSTEMD_EXEC_PID": true, "MANAGERPID": true,
	"NOTIFY_SOCKET": true, "WATCHDOG_PID": true, "WATCHDOG_USEC": true,
	"LISTEN_PID": true, "LISTEN_FDS": true, "LISTEN_FDNAMES": true,
}

// stableEnv returns env without the variables of volatileEnv.
func stableEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !volatileEnv[name] {
			out = append(out, kv)
		}
	}
	return out
}

// appendInt appends v in 8 bytes.
func appendInt(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(v))
}
