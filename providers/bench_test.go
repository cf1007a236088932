package providers

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// The in-process cost of the protocol, per plugin process: hack/bench measures the whole
// process (fork, exec, package initialisation, this, exit) and puts these in context.

const benchRequest = `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1"}`

func benchResponse() *Response {
	return &Response{
		CacheKeyType:  CacheKeyRegistry,
		CacheDuration: CacheFor(6 * time.Hour),
		Auth:          map[string]AuthConfig{"123456789012.dkr.ecr.us-east-1.amazonaws.com": {Username: "AWS", Password: strings.Repeat("p", 2000)}},
	}
}

// BenchmarkNewCodecs is the scheme and codec factory a process builds on its first request.
func BenchmarkNewCodecs(b *testing.B) {
	for b.Loop() {
		newCodecs()
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	data := []byte(benchRequest)
	for b.Loop() {
		if _, _, _, err := DecodeRequest(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	resp := benchResponse()
	for b.Loop() {
		if _, err := EncodeResponse(resp, APIVersionV1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRun is the whole protocol around a provider that answers at once.
func BenchmarkRun(b *testing.B) {
	p := ProviderFunc(func(context.Context, *Request) (*Response, error) { return benchResponse(), nil })
	ctx := context.Background()
	for b.Loop() {
		if err := Run(ctx, strings.NewReader(benchRequest), io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}
