package providers

import (
	"testing"
)

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(request(APIVersionV1, "r.io/a", "")))
	f.Add([]byte(request(APIVersionV1beta1, "nginx", `,"x":1`)))
	f.Add([]byte(request(APIVersionV1, "r.io/a", `,"serviceAccountToken":"t","serviceAccountAnnotations":{"k":"v"}`)))
	f.Add([]byte(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1alpha1","kind":"CredentialProviderRequest","image":"a","image":"b"}`))
	f.Add([]byte(`[[[[[[[[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, apiVersion, _, err := DecodeRequest(data)
		if err != nil {
			return
		}
		if req == nil {
			t.Fatalf("DecodeRequest(%q) = nil request without error", data)
		}
		if _, err := groupVersion(apiVersion); err != nil {
			t.Fatalf("DecodeRequest(%q) accepted apiVersion %q", data, apiVersion)
		}
		// Whatever decodes can be answered in its own apiVersion and read back by the kubelet.
		resp := &Response{CacheKeyType: CacheKeyImage, Auth: map[string]AuthConfig{req.Image: {Username: "u", Password: "p"}}}
		out, err := EncodeResponse(resp, apiVersion)
		if err != nil {
			t.Fatalf("EncodeResponse(…, %q) = %v", apiVersion, err)
		}
		if _, err := DecodeResponse(out, apiVersion); err != nil {
			t.Fatalf("DecodeResponse(%q) = %v", out, err)
		}
	})
}
