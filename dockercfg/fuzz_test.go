package dockercfg

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pullkeys/pullkeys/providers/keyring"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*")
	files = append(files, "testdata/legacy/.dockercfg", "testdata/secret/.dockercfg", "testdata/secret/.dockerconfigjson")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"auths":{"https://a.io/v2/v1/x":{"auth":"dTpw"}},"credHelpers":{"b.io":"x"},"credsStore":"y"}`))
	f.Add([]byte(`{"a.io":{"auth":"dTpw","identitytoken":"t"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz")
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		for i, e := range cfg.Entries {
			// Every key is a fixed point of the kubelet's normalisation, so the kubelet matches
			// our answer's keys exactly as Resolve did.
			if norm, err := keyring.NormalizeKey(e.Key); err != nil || norm != e.Key {
				t.Errorf("entry key %q normalises to %q, %v", e.Key, norm, err)
			}
			if e.Key == "" || strings.HasPrefix(e.Key, "/") {
				t.Errorf("entry key %q has no host", e.Key)
			}
			if i > 0 && cfg.Entries[i-1].Key >= e.Key {
				t.Errorf("entries not sorted and unique: %q then %q", cfg.Entries[i-1].Key, e.Key)
			}
			if e.Helper != "" {
				if e.Username != "" || e.Password != "" || e.IdentityToken != "" {
					t.Errorf("helper entry %q also has static credentials", e.Key)
				}
				if !helperName.MatchString(e.Helper) {
					t.Errorf("entry %q: helper name %q is not a plain name", e.Key, e.Helper)
				}
			} else if e.Username == "" && e.Password == "" && e.IdentityToken == "" {
				t.Errorf("static entry %q has no credentials", e.Key)
			}
			for _, s := range []string{e.Username, e.Password, e.IdentityToken} {
				if !utf8.ValidString(s) {
					t.Errorf("entry %q holds invalid UTF-8", e.Key)
				}
			}
		}
	})
}

func FuzzDecodeAuth(f *testing.F) {
	for _, s := range []string{"user:pass", ":", "a:b:c", "", "user:pass\x00", "ü:ß"} {
		f.Add(base64.StdEncoding.EncodeToString([]byte(s)))
		f.Add(base64.RawStdEncoding.EncodeToString([]byte(s)))
	}
	f.Add("not base64!")
	f.Add(" dTpw\n")
	f.Fuzz(func(t *testing.T, field string) {
		user, pass, err := DecodeAuth(field)
		if err != nil {
			if !errors.Is(err, ErrInvalidAuth) {
				t.Fatalf("DecodeAuth(%q) error %v does not wrap ErrInvalidAuth", field, err)
			}
			if s := strings.TrimSpace(field); len(s) >= 12 && strings.Contains(err.Error(), s) {
				t.Fatalf("DecodeAuth(%q) error %q quotes the field", field, err)
			}
			return
		}
		if strings.Contains(user, ":") {
			t.Fatalf("DecodeAuth(%q) user %q holds a colon: not split at the first one", field, user)
		}
		// Round trip: encoding what came out, padded or not, decodes to the same.
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			again := enc.EncodeToString([]byte(user + ":" + pass))
			u2, p2, err := DecodeAuth(again)
			if err != nil || u2 != user || p2 != pass {
				t.Fatalf("DecodeAuth(%q) = %q, %q, %v after re-encoding, want %q, %q", again, u2, p2, err, user, pass)
			}
		}
	})
}
