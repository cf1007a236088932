// Package critest is a fake CRI image service for tests: a real gRPC server on a unix socket
// that implements runtimeapi.ImageServiceServer over an in-memory image store, with images a
// registry would serve only with given credentials.
package critest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Image is an image the fake registry behind the runtime serves.
type Image struct {
	// Ref is the reference a pull asks for (as the runtime receives it).
	Ref string
	// Username and Password are required when Username is set.
	Username, Password string
	// Size is the image size reported once pulled.
	Size uint64
}

// Service is the fake image service.
type Service struct {
	runtimeapi.UnimplementedImageServiceServer

	// Endpoint is the unix:// endpoint to dial.
	Endpoint string

	mu       sync.Mutex
	registry map[string]Image  // ref → image the registry serves
	local    map[string]string // ref → image id, present in the runtime
	pulls    []string          // refs of PullImage calls, successful or not
}

// New starts a fake image service on a socket in t.TempDir(), serving the given registry
// images; present refs are in the runtime from the start. It stops with the test.
func New(t *testing.T, registry []Image, present ...string) *Service {
	t.Helper()
	return NewAt(t, filepath.Join(t.TempDir(), "cri.sock"), registry, present...)
}

// NewAt is New with the socket at sock (its directory must exist).
func NewAt(t *testing.T, sock string, registry []Image, present ...string) *Service {
	t.Helper()
	s := &Service{registry: map[string]Image{}, local: map[string]string{}}
	for _, img := range registry {
		s.registry[img.Ref] = img
	}
	for _, ref := range present {
		s.local[ref] = ID(ref)
	}
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	runtimeapi.RegisterImageServiceServer(srv, s)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	s.Endpoint = "unix://" + sock
	return s
}

// ID is the fake image id of ref.
func ID(ref string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(ref))) }

// Pulls returns the refs of every PullImage call so far.
func (s *Service) Pulls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.pulls...)
}

// ImageFsInfo answers the client's connection check.
func (s *Service) ImageFsInfo(context.Context, *runtimeapi.ImageFsInfoRequest) (*runtimeapi.ImageFsInfoResponse, error) {
	return &runtimeapi.ImageFsInfoResponse{}, nil
}

// ImageStatus reports a present image by its ref or its id.
func (s *Service) ImageStatus(_ context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := req.GetImage().GetImage()
	for r, id := range s.local {
		if r == ref || id == ref {
			size := s.registry[r].Size
			if size == 0 {
				size = 1
			}
			return &runtimeapi.ImageStatusResponse{Image: &runtimeapi.Image{Id: id, RepoTags: []string{r}, RepoDigests: []string{"registry/" + id}, Size: size}}, nil
		}
	}
	return &runtimeapi.ImageStatusResponse{}, nil
}

// PullImage "pulls" from the registry, checking credentials as the registry would.
func (s *Service) PullImage(_ context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := req.GetImage().GetImage()
	s.pulls = append(s.pulls, ref)
	img, ok := s.registry[ref]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "failed to pull and unpack image %q: %s: not found", ref, ref)
	}
	if img.Username != "" && (req.GetAuth().GetUsername() != img.Username || req.GetAuth().GetPassword() != img.Password) {
		return nil, status.Errorf(codes.Unknown, "failed to pull and unpack image %q: failed to resolve reference %q: pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials", ref, ref)
	}
	s.local[ref] = ID(ref)
	return &runtimeapi.PullImageResponse{ImageRef: ID(ref)}, nil
}
