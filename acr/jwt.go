package acr

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/pullkeys/pullkeys/cache"
)

// claims are the JWT claims this package reads, without verifying any signature: the expiry
// of a registry refresh token (the registry verifies its own tokens), and what names a
// Kubernetes service account token (the kubelet hands it over; AAD verifies it before it
// issues anything for it).
type claims struct {
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

// parseJWT decodes the payload of a JWT; ok is false for anything that is not one.
func parseJWT(token string) (c claims, ok bool) {
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
		return claims{}, false
	}
	return c, true
}

// expiry returns the exp claim of a JWT; ok is false without a positive one.
func expiry(token string) (time.Time, bool) {
	c, ok := parseJWT(token)
	if !ok || c.Expiry == "" {
		return time.Time{}, false
	}
	sec, err := strconv.ParseFloat(string(c.Expiry), 64)
	if err != nil || sec <= 0 || sec > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(int64(sec), 0), true
}

// serviceAccountID returns a hash that names the service account a token was issued for (its
// issuer, subject, UID and audience), so that the tokens the kubelet mints again and again for
// one service account share one cache entry. A token that is not a readable JWT with a
// subject is named by its own hash.
func serviceAccountID(token string) string {
	c, ok := parseJWT(token)
	if !ok || c.Subject == "" {
		return cache.HashIdentity("token\x00" + token)
	}
	return cache.HashIdentity(joinParts("sa", c.Issuer, c.Subject, c.K8s.ServiceAccount.UID, string(c.Audience)))
}

// joinParts joins strings with length prefixes, so that no two lists join alike.
func joinParts(parts ...string) string {
	var b []byte
	for _, p := range parts {
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, ':')
		b = append(b, p...)
	}
	return string(b)
}
