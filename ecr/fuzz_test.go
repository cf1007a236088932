package ecr

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func FuzzDecodeToken(f *testing.F) {
	for _, s := range []string{"AWS:password", "user:pa:ss", ":", "nocolon", "AWS:", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, plain string) {
		// Round trip: what ECR encodes decodes to the user before the first colon and the rest.
		tok := base64.StdEncoding.EncodeToString([]byte(plain))
		user, pass, err := decodeToken(tok)
		wantUser, wantPass, ok := strings.Cut(plain, ":")
		if ok && wantUser != "" && wantPass != "" {
			if err != nil || user != wantUser || pass != wantPass {
				t.Fatalf("decodeToken(base64(%q)) = %q, %q, %v; want %q, %q", plain, user, pass, err, wantUser, wantPass)
			}
		} else if err == nil {
			t.Fatalf("decodeToken(base64(%q)) = %q, %q, nil; want an error", plain, user, pass)
		}
		// Any string: no panic, and an error is one of two fixed messages, never quoting it.
		if _, _, err := decodeToken(plain); err != nil {
			msg := strings.TrimPrefix(err.Error(), ErrMalformedResponse.Error()+": ")
			if !errors.Is(err, ErrMalformedResponse) || msg != "authorization token is not base64" && msg != "authorization token is not user:password" {
				t.Fatalf("decodeToken(%q) error %q", plain, err)
			}
		}
	})
}

func FuzzSessionName(f *testing.F) {
	f.Add(saToken("ns", "name", "uid", 1))
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		name := sessionName(token)
		if len(name) < 2 || len(name) > 64 {
			t.Fatalf("sessionName(%q) = %q: length %d outside [2, 64]", token, name, len(name))
		}
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+=,.@-", r)) {
				t.Fatalf("sessionName(%q) = %q: STS refuses %q", token, name, r)
			}
		}
		if serviceAccountID(token) == "" {
			t.Fatalf("serviceAccountID(%q) is empty", token)
		}
	})
}
