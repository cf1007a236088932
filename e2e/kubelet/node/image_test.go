package node

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// busyboxPath is the static busybox the images are made of (Debian: busybox-static).
const busyboxPath = "/bin/busybox"

// busyboxLayer is one layer with /bin/busybox and links for the applets the scenarios use.
func busyboxLayer() (v1.Layer, error) {
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"bin/", "etc/", "tmp/", "proc/", "sys/", "dev/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bb); err != nil {
		return nil, err
	}
	for _, applet := range []string{"sh", "echo", "sleep"} {
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// busyboxImage is an image of busyboxLayer with PATH set and entrypoint (nil: none, the
// pod's command runs).
func busyboxImage(entrypoint []string) (v1.Image, error) {
	layer, err := busyboxLayer()
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = runtime.GOARCH, "linux"
	cf.Config.Env = []string{"PATH=/bin"}
	cf.Config.Entrypoint = entrypoint
	cf.Config.Cmd = []string{"sh"}
	if entrypoint != nil {
		cf.Config.Cmd = nil
	}
	return mutate.ConfigFile(img, cf)
}

// sandboxEntrypoint is the sandbox (pause) container's process: it waits until stopped.
var sandboxEntrypoint = []string{"/bin/busybox", "sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 1; done"}
