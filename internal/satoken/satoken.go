// Package satoken reads the claims of a Kubernetes service account token that the kubelet
// hands a credential provider (KEP-4412), without verifying its signature: the token comes
// from the kubelet, and the cloud's token service verifies it before it issues anything for
// it. The claims only name the service account, for cache keys and session names.
package satoken

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/pullkeys/pullkeys/cache"
)

// Claims are the claims of a JWT that pullkeys reads.
type Claims struct {
	Issuer   string          `json:"iss"`
	Subject  string          `json:"sub"`
	Audience json.RawMessage `json:"aud"`
	Expiry   json.Number     `json:"exp"`
	K8s      struct {
		Namespace      string `json:"namespace"`
		ServiceAccount struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"serviceaccount"`
	} `json:"kubernetes.io"`
}

// Parse decodes the payload of a JWT; ok is false for anything that is not one (three parts,
// a base64url payload of at most 64 KiB holding a JSON object of these claims).
func Parse(token string) (c Claims, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) > 64<<10 {
		return c, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, false
	}
	d := json.NewDecoder(strings.NewReader(string(payload)))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		return Claims{}, false
	}
	return c, true
}

// ID returns a hash that names the service account a token was issued for (its issuer,
// subject, UID and audience), so that the tokens the kubelet mints again and again for one
// service account share one cache entry. A token that is not a readable JWT with a subject is
// named by its own hash. Neither holds the token.
func ID(token string) string {
	c, ok := Parse(token)
	if !ok || c.Subject == "" {
		return cache.HashIdentity("token\x00" + token)
	}
	var b []byte
	for _, p := range []string{"sa", c.Issuer, c.Subject, c.K8s.ServiceAccount.UID, string(c.Audience)} {
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, ':')
		b = append(b, p...)
	}
	return cache.HashIdentity(string(b))
}
