package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pullkeys/pullkeys/providers/keyring"
)

// MaxRequestBytes is the largest request Run reads. A real request is a few hundred bytes
// (a service account token makes it a few KiB); anything near this is not from a kubelet.
const MaxRequestBytes = 1 << 20

// DefaultTimeout bounds a provider call when the context has no deadline. The kubelet kills a
// plugin after one minute and then discards whatever it wrote, so a plugin must give up first
// and say why.
const DefaultTimeout = 50 * time.Second

// Run reads one request from stdin, asks p, and writes one response to stdout in the request's
// apiVersion. On any failure it returns an error and writes nothing to stdout. The logger in
// ctx (see WithLogger) receives diagnostics; it never receives secrets.
func Run(ctx context.Context, stdin io.Reader, stdout io.Writer, p Provider) error {
	data, err := readRequest(stdin)
	if err != nil {
		return err
	}
	return answer(ctx, data, stdout, p)
}

// readRequest reads a request of at most MaxRequestBytes.
func readRequest(stdin io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(stdin, MaxRequestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	if len(data) > MaxRequestBytes {
		return nil, fmt.Errorf("read request: %w: more than %d bytes on stdin", ErrTooLarge, MaxRequestBytes)
	}
	return data, nil
}

// answer is Run past reading the request.
func answer(ctx context.Context, data []byte, stdout io.Writer, p Provider) error {
	log := Logger(ctx)
	req, apiVersion, warnings, err := DecodeRequest(data)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		log.Log(ctx, V(4), "request field ignored", "apiVersion", apiVersion, "problem", w)
	}
	if strings.TrimSpace(req.Image) == "" {
		return fmt.Errorf("decode request: %w", ErrEmptyImage)
	}
	image, err := keyring.NormalizeImage(req.Image)
	if err != nil {
		return fmt.Errorf("decode request: %w", err)
	}
	if image != req.Image {
		log.Log(ctx, V(2), "image normalised as the kubelet does", "image", req.Image, "normalised", image)
		req.Image = image
	}
	log.Log(ctx, V(3), "request", "apiVersion", apiVersion, "image", req.Image,
		"serviceAccountToken", req.ServiceAccountToken != "", "serviceAccountAnnotations", len(req.ServiceAccountAnnotations))

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	start := time.Now()
	resp, err := p.Provide(ctx, req)
	if err == nil && ctx.Err() != nil {
		// The provider answered after giving up its own work: do not trust a late answer.
		err = ctx.Err()
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer within the deadline (%s): %w", time.Since(start).Round(time.Millisecond), err)
		}
		return err
	}
	out, err := EncodeResponse(resp, apiVersion)
	if err != nil {
		return err
	}
	duration := "default"
	if resp.CacheDuration != nil {
		duration = resp.CacheDuration.Duration.String()
	}
	log.Log(ctx, V(3), "response", "cacheKeyType", resp.CacheKeyType, "cacheDuration", duration,
		"keys", authKeys(resp), "elapsed", time.Since(start).Round(time.Microsecond))
	if _, err := stdout.Write(out); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	return nil
}

// authKeys lists the patterns of a response (never the credentials) for logs.
func authKeys(resp *Response) []string {
	keys := make([]string, 0, len(resp.Auth))
	for k := range resp.Auth {
		keys = append(keys, k)
	}
	return keys
}
