package harness

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

// ServiceAccountToken returns a token shaped like the ones the kubelet mints for a pod's
// service account (a JWT with the kubernetes.io claims) for namespace/name and audience. It
// is not signed: the fakes that take it (STS) accept the tokens they are told to accept.
func ServiceAccountToken(namespace, name, audience string) string {
	now := time.Now()
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "e2e"})
	claims, _ := json.Marshal(map[string]any{
		"iss": "https://kubernetes.default.svc.cluster.local",
		"sub": "system:serviceaccount:" + namespace + ":" + name,
		"aud": []string{audience},
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"kubernetes.io": map[string]any{
			"namespace":      namespace,
			"serviceaccount": map[string]string{"name": name, "uid": "e2e-" + RandomString(12)},
		},
	})
	enc := base64.RawURLEncoding.EncodeToString
	return enc(header) + "." + enc(claims) + "." + enc([]byte(RandomString(32)))
}
