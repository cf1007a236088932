package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Pulled describes a successful pull.
type Pulled struct {
	Digest v1.Hash // the manifest's digest
	Layers int     // layers read to the end, each checked against its digest
	Bytes  int64   // compressed bytes read
}

// Pull pulls image (any reference: host[:port]/path[:tag|@digest]) from the registry with
// cred, as a container runtime would: the manifest, the config and every layer, read to the
// end and verified. A nil cred pulls anonymously. A rejected credential is an error for which
// IsUnauthorized reports true.
func (r *Registry) Pull(ctx context.Context, image string, cred *Credential) (*Pulled, error) {
	ref, err := name.ParseReference(image, name.StrictValidation)
	if err != nil {
		if ref, err = name.ParseReference(image); err != nil {
			return nil, fmt.Errorf("harness: pull %s: %w", image, err)
		}
	}
	auth := authn.Anonymous
	if cred != nil {
		auth = authn.FromConfig(authn.AuthConfig{Username: cred.Username, Password: cred.Password})
	}
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithTransport(r.Transport()), remote.WithAuth(auth))
	if err != nil {
		return nil, fmt.Errorf("harness: pull %s: %w", image, err)
	}
	out := &Pulled{}
	if out.Digest, err = img.Digest(); err != nil {
		return nil, fmt.Errorf("harness: pull %s: manifest: %w", image, err)
	}
	if _, err := img.RawConfigFile(); err != nil {
		return nil, fmt.Errorf("harness: pull %s: config: %w", image, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("harness: pull %s: layers: %w", image, err)
	}
	for _, l := range layers {
		n, err := readLayer(l)
		if err != nil {
			return nil, fmt.Errorf("harness: pull %s: %w", image, err)
		}
		out.Layers++
		out.Bytes += n
	}
	return out, nil
}

func readLayer(l v1.Layer) (int64, error) {
	d, err := l.Digest()
	if err != nil {
		return 0, fmt.Errorf("layer digest: %w", err)
	}
	rc, err := l.Compressed() // verifies the digest as it reads
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", d, err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err != nil {
		return n, fmt.Errorf("layer %s: %w", d, err)
	}
	return n, nil
}

// PullWithAny tries creds in order and stops at the first that pulls, as a container runtime
// does with the list of credentials the kubelet hands it; with none it pulls anonymously. It
// returns the index of the credential that worked (-1 for anonymous) and, when all fail, the
// last error.
func (r *Registry) PullWithAny(ctx context.Context, image string, creds []Credential) (int, *Pulled, error) {
	if len(creds) == 0 {
		p, err := r.Pull(ctx, image, nil)
		return -1, p, err
	}
	var last error
	for i := range creds {
		p, err := r.Pull(ctx, image, &creds[i])
		if err == nil {
			return i, p, nil
		}
		last = err
	}
	return -1, nil, last
}

// IsUnauthorized reports whether err is the registry's 401.
func IsUnauthorized(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusUnauthorized
}
