// Command containerd-mirror-probe finds out, with a real containerd, which hosts the CRI
// PullImage call sends the kubelet's credential to when the upstream has a mirror in
// hosts.toml: with and without a server line, a server naming the upstream, no [host]
// section, override_path, and a mirror that fails (503) or is down (nothing listens).
//
// It runs containerd (from PATH; as root) once per scenario with its own root, state, socket
// and config_path under DIR, pulls localhost:5001/library/nginx:1 with the AuthConfig the
// kubelet would send (user and password, no server address), and prints what a recording
// mirror (127.0.0.1:5002) and upstream (localhost:5001) received. Loopback only; ports
// 5001-5003 must be free. Its own module, so that the CRI and gRPC modules stay out of the
// plugins' go.mod. Results: docs/mirrors.md.
//
//	go run . DIR
package main

import (
	"context"

	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"
)

type recorder struct {
	name string
	mu   sync.Mutex
	hits []string
	fail int // status after auth
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	a := req.Header.Get("Authorization")
	r.mu.Lock()
	r.hits = append(r.hits, fmt.Sprintf("%s %s auth=%q", req.Method, req.URL.Path, a))
	r.mu.Unlock()
	if a == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="probe"`)
		w.WriteHeader(401)
		return
	}
	w.WriteHeader(r.fail)
}

func listen(addr string) net.Listener {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		panic(err)
	}
	return l
}

func main() {
	base := os.Args[1]
	mirror := &recorder{name: "mirror", fail: 503}
	up := &recorder{name: "upstream", fail: 404}
	ms := httptest.NewUnstartedServer(mirror)
	ms.Listener = listen("127.0.0.1:5002")
	ms.Start()
	us := httptest.NewUnstartedServer(up)
	us.Listener = listen("127.0.0.1:5001")

	us.Start()
	defer ms.Close()
	defer us.Close()

	scenarios := []struct{ name, toml string }{
		{"no server line", "skip_verify = true\n[host.\"http://127.0.0.1:5002\"]\n  capabilities = [\"pull\", \"resolve\"]\n"},
		{"mirror down (nothing listens), no server line", "[host.\"http://127.0.0.1:5003\"]\n  capabilities = [\"pull\", \"resolve\"]\n"},
		{"mirror down (nothing listens), server = mirror", "server = \"http://127.0.0.1:5003\"\n[host.\"http://127.0.0.1:5003\"]\n  capabilities = [\"pull\", \"resolve\"]\n"},
		{"server = upstream", "server = \"http://localhost:5001\"\nskip_verify = true\n[host.\"http://127.0.0.1:5002\"]\n  capabilities = [\"pull\", \"resolve\"]\n"},
		{"server = mirror", "server = \"http://127.0.0.1:5002\"\n[host.\"http://127.0.0.1:5002\"]\n  capabilities = [\"pull\", \"resolve\"]\n"},
		{"server only, no [host]", "server = \"http://127.0.0.1:5002\"\nskip_verify = true\n"},
		{"override_path mirror, server = mirror", "server = \"http://127.0.0.1:5002/v2/hub\"\noverride_path = true\n[host.\"http://127.0.0.1:5002/v2/hub\"]\n  override_path = true\n"},
	}
	for i, sc := range scenarios {
		dir := filepath.Join(base, fmt.Sprint(i))
		certs := filepath.Join(dir, "certs.d", "localhost:5001")
		os.MkdirAll(certs, 0o755)
		os.WriteFile(filepath.Join(certs, "hosts.toml"), []byte(sc.toml), 0o644)
		sock := filepath.Join(dir, "c.sock")
		cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, filepath.Join(dir, "certs.d"))
		os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o644)
		log, _ := os.Create(filepath.Join(dir, "containerd.log"))
		cmd := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"), "--log-level", "debug")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			panic(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		var conn *grpc.ClientConn
		for j := 0; j < 100; j++ {
			if _, err := os.Stat(sock); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			panic(err)
		}
		client := runtime.NewImageServiceClient(conn)
		mirror.hits, up.hits = nil, nil
		var perr error
		for j := 0; j < 50; j++ {
			_, perr = client.PullImage(ctx, &runtime.PullImageRequest{
				Image: &runtime.ImageSpec{Image: "localhost:5001/library/nginx:1"},
				Auth:  &runtime.AuthConfig{Username: "mirror-user", Password: "mirror-pass"},
			})
			if perr != nil && (len(mirror.hits)+len(up.hits) == 0) {
				time.Sleep(200 * time.Millisecond) // CRI plugin not ready yet
				continue
			}
			break
		}
		fmt.Printf("== %s\n   pull error: %v\n", sc.name, perr)
		for _, r := range []*recorder{mirror, up} {
			for _, h := range r.hits {
				fmt.Printf("   %-8s %s\n", r.name, h)
			}
		}
		cancel()
		conn.Close()
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
}
