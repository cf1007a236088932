package dockercfg

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParse(t *testing.T) {
	tests := []struct {
		name         string
		file         string
		wantFormat   Format
		wantEntries  []Entry
		wantWarnings []Warning
	}{
		{
			name:       "config.json with auths of every shape",
			file:       "parse/auths.json",
			wantFormat: FormatConfigJSON,
			wantEntries: []Entry{
				// username from auth, identity token kept for Resolve to map (ACR style)
				{Key: "acr.example.io", ServerURL: "acr.example.io", Username: "00000000-0000-0000-0000-000000000000", IdentityToken: "acr-refresh-token"},
				// "dup.example.io" sorts before "https://dup.example.io": first wins
				{Key: "dup.example.io", ServerURL: "dup.example.io", Username: "dup-second", Password: "dup-second-pass"},
				// an empty user name is the kubelet's behaviour: passed on as is
				{Key: "emptypass.example.io", ServerURL: "emptypass.example.io", Password: "only-password"},
				{Key: "fields.example.io", ServerURL: "fields.example.io", Username: "fields-user", Password: "fields-pass"},
				// https://index.docker.io/v1/ is stored as the kubelet stores it
				{Key: "index.docker.io", ServerURL: "https://index.docker.io/v1/", Username: "hub-user", Password: "hub-pass"},
				// auth wins over username and password, as in the kubelet and docker
				{Key: "override.example.io", ServerURL: "override.example.io", Username: "auth-user", Password: "auth-pass"},
				// split at the first colon; the rest, colons and "=", is the password
				{Key: "padded.example.io", ServerURL: "padded.example.io", Username: "padded-user", Password: "padded-pass=with:colons"},
				{Key: "paths.example.io/team", ServerURL: "paths.example.io/team", Username: "team-user", Password: "team-pass"},
				// scheme and /v2/ dropped, port kept
				{Key: "plain.example.io:5000", ServerURL: "http://plain.example.io:5000/v2/", Username: "port-user", Password: "port-pass"},
				{Key: "token.example.io", ServerURL: "token.example.io", IdentityToken: "bare-refresh-token"},
				{Key: "unpadded.example.io", ServerURL: "unpadded.example.io", Username: "unpadded-user", Password: "unpadded-pass"},
				// user info in a key is dropped from the pattern
				{Key: "userinfo.example.io", ServerURL: "https://user:keypass@userinfo.example.io", Username: "ui-user", Password: "ui-pass"},
			},
			wantWarnings: []Warning{
				{Key: "badbase64.example.io", Problem: "invalid auth field: not base64 (bad data at byte 3): skipped"},
				{Key: "https://dup.example.io", Problem: "same registry as key dup.example.io in auths: skipped"},
				{Key: "nocolon.example.io", Problem: "invalid auth field: no colon in the decoded value (want base64 of user:password): skipped"},
				{Key: "notobject.example.io", Problem: "the entry is a JSON string, want an object: skipped"},
				{Key: "notutf8.example.io", Problem: "credentials are not valid UTF-8: skipped"},
				{Key: "registrytoken.example.io", Problem: "only a registrytoken, which the kubelet cannot pass on: skipped"},
				{Key: "wrongtype.example.io", Problem: `field "password" is a JSON number, want a string: skipped`},
			},
		},
		{
			name:       "credsStore serves the empty auths entries, static entries stay static",
			file:       "parse/credsstore.json",
			wantFormat: FormatConfigJSON,
			wantEntries: []Entry{
				{Key: "index.docker.io", ServerURL: "https://index.docker.io/v1/", Helper: "fake"},
				{Key: "static.example.io", ServerURL: "static.example.io", Username: "static-user", Password: "static-pass"},
				{Key: "store.example.io", ServerURL: "store.example.io", Helper: "fake"},
			},
			wantWarnings: []Warning{
				{Key: "*.glob.example.io", Problem: "a registry served by a credential helper must be an exact host (docker asks helpers for the host): skipped"},
			},
		},
		{
			name:       "credHelpers win over auths and credsStore, helper names must not be paths",
			file:       "parse/credhelpers.json",
			wantFormat: FormatConfigJSON,
			wantEntries: []Entry{
				{Key: "123456789012.dkr.ecr.us-east-1.amazonaws.com", ServerURL: "123456789012.dkr.ecr.us-east-1.amazonaws.com", Helper: "ecr-login"},
				{Key: "helped.example.io", ServerURL: "helped.example.io", Helper: "fake"},
				{Key: "static.example.io", ServerURL: "static.example.io", Username: "static-user", Password: "static-pass"},
				{Key: "stored.example.io", ServerURL: "stored.example.io", Helper: "store"},
			},
			wantWarnings: []Warning{
				{Key: "*.glob.example.io", Problem: "a registry served by a credential helper must be an exact host (docker asks helpers for the host): skipped"},
				{Key: "evil.example.io", Problem: "credHelpers value is not a credential helper name (want letters, digits, '.', '_', '+', '-'): skipped"},
			},
		},
		{
			name:        "credsStore that is a path is ignored",
			file:        "parse/badstore.json",
			wantFormat:  FormatConfigJSON,
			wantEntries: []Entry{},
			wantWarnings: []Warning{
				{Problem: "credsStore is not a credential helper name (want letters, digits, '.', '_', '+', '-'): ignored"},
			},
		},
		{
			name:       "legacy .dockercfg with padded and unpadded auth",
			file:       "legacy/.dockercfg",
			wantFormat: FormatLegacy,
			wantEntries: []Entry{
				{Key: "fields.legacy.example.io", ServerURL: "fields.legacy.example.io", Username: "lf-user", Password: "lf-pass"},
				{Key: "index.docker.io", ServerURL: "https://index.docker.io/v1/", Username: "legacy-hub-user", Password: "legacy-hub-pass"},
				{Key: "legacy.example.io", ServerURL: "legacy.example.io", Username: "legacy-user", Password: "legacy-pass"},
			},
			wantWarnings: []Warning{
				{Key: "bad.legacy.example.io", Problem: "invalid auth field: no colon in the decoded value (want base64 of user:password): skipped"},
			},
		},
		{
			name:        "mounted .dockerconfigjson secret key",
			file:        "secret/.dockerconfigjson",
			wantFormat:  FormatConfigJSON,
			wantEntries: []Entry{{Key: "secret.example.io", ServerURL: "secret.example.io", Username: "json-user", Password: "json-pass"}},
		},
		{
			name:       "mounted .dockercfg secret key",
			file:       "secret/.dockercfg",
			wantFormat: FormatLegacy,
			wantEntries: []Entry{
				{Key: "cfgonly.example.io", ServerURL: "cfgonly.example.io", Username: "cfgonly-user", Password: "cfgonly-pass"},
				{Key: "secret.example.io", ServerURL: "secret.example.io", Username: "cfg-user", Password: "cfg-pass"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(readFixture(t, tt.file), tt.file)
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", tt.file, err)
			}
			if got.Origin != tt.file || got.Format != tt.wantFormat {
				t.Errorf("Parse(%s) = origin %q format %v, want %q %v", tt.file, got.Origin, got.Format, tt.file, tt.wantFormat)
			}
			if diff := cmp.Diff(tt.wantEntries, got.Entries); diff != "" {
				t.Errorf("Parse(%s) entries (-want +got):\n%s", tt.file, diff)
			}
			if diff := cmp.Diff(tt.wantWarnings, got.Warnings); diff != "" {
				t.Errorf("Parse(%s) warnings (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		wantMsg string
		secrets []string // must not appear in the error
	}{
		{name: "not JSON", file: "parse/malformed-notjson.json", wantMsg: "invalid JSON at line 1, column 2", secrets: []string{"hunter2", "'h'"}},
		{name: "top level array", file: "parse/malformed-array.json", wantMsg: "the document is a JSON array, want an object"},
		{name: "null", file: "parse/malformed-null.json", wantMsg: "the document is null, want a JSON object"},
		{name: "empty file", file: "parse/malformed-empty.json", wantMsg: "empty document"},
		{name: "white space only", file: "parse/malformed-whitespace.json", wantMsg: "empty document"},
		{name: "trailing data after the object", file: "parse/malformed-trailing.json", wantMsg: "invalid JSON at line 2, column 1"},
		{name: "truncated in a secret", file: "parse/malformed-truncated.json", wantMsg: "invalid JSON at line 1", secrets: []string{base64.StdEncoding.EncodeToString([]byte("user:truncated-secret"))}},
		{name: "bad escape inside a password quotes no character", file: "parse/malformed-badescape.json", wantMsg: "invalid JSON at line 1, column 45", secrets: []string{"'z'", "zcret"}},
		{name: "auths is an array", file: "parse/malformed-authsarray.json", wantMsg: `field "auths" is a JSON array, want an object`},
		{name: "credHelpers value is a number, not quoted", file: "parse/malformed-credhelpersnumber.json", wantMsg: `field "credHelpers" is a JSON number, want a string`, secrets: []string{"424242"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(readFixture(t, tt.file), tt.file)
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, want an error", tt.file, got)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%s) error %v, want errors.Is(err, ErrMalformed)", tt.file, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "parse "+tt.file+": ") || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("Parse(%s) error %q, want it to name the file and say %q", tt.file, msg, tt.wantMsg)
			}
			for _, s := range tt.secrets {
				if strings.Contains(msg, s) {
					t.Errorf("Parse(%s) error %q quotes the content %q", tt.file, msg, s)
				}
			}
		})
	}
}

func TestParseFormatDetection(t *testing.T) {
	tests := []struct {
		name        string
		doc         string
		wantFormat  Format
		wantEntries int
	}{
		{name: "empty object", doc: `{}`, wantFormat: FormatLegacy},
		{name: "auths only", doc: `{"auths":{"a.io":{"username":"u","password":"p"}}}`, wantFormat: FormatConfigJSON, wantEntries: 1},
		{name: "field names match case-insensitively, like encoding/json", doc: `{"Auths":{"a.io":{"username":"u","password":"p"}}}`, wantFormat: FormatConfigJSON, wantEntries: 1},
		{name: "credHelpers only", doc: `{"credHelpers":{"a.io":"x"}}`, wantFormat: FormatConfigJSON, wantEntries: 1},
		{name: "credsStore with nothing to serve", doc: `{"credsStore":"desktop"}`, wantFormat: FormatConfigJSON},
		{name: "other config.json fields only", doc: `{"psFormat":"table","detachKeys":"ctrl-p"}`, wantFormat: FormatConfigJSON},
		{name: "registry keys only", doc: `{"a.io":{"auth":"dTpw"},"b.io":{"auth":"dTpw"}}`, wantFormat: FormatLegacy, wantEntries: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.doc), "doc")
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", tt.doc, err)
			}
			if got.Format != tt.wantFormat || len(got.Entries) != tt.wantEntries {
				t.Errorf("Parse(%s) = format %v with %d entries, want %v with %d", tt.doc, got.Format, len(got.Entries), tt.wantFormat, tt.wantEntries)
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	tests := []struct {
		name        string
		key         string
		wantKey     string // "" when the entry is skipped
		wantWarning string
	}{
		{name: "host", key: "registry.example.io", wantKey: "registry.example.io"},
		{name: "https scheme and v1 path", key: "https://registry.example.io/v1/", wantKey: "registry.example.io"},
		{name: "v2 path with a repository", key: "https://registry.example.io/v2/team", wantKey: "registry.example.io/team"},
		{name: "trailing slash means the host", key: "registry.example.io/", wantKey: "registry.example.io"},
		{name: "port", key: "registry.example.io:5000", wantKey: "registry.example.io:5000"},
		{name: "glob", key: "*.example.io", wantKey: "*.example.io"},
		{name: "IPv6 literal", key: "[::1]:5000", wantKey: "[::1]:5000"},
		{name: "unparsable", key: "%zz.example.io", wantWarning: "not a registry (does not parse as a URL): skipped"},
		{name: "no host", key: "/v2/team", wantWarning: "no registry host: skipped"},
		{name: "empty", key: "", wantWarning: "no registry host: skipped"},
		{name: "normalising twice changes it", key: "https://registry.example.io/v2/v1/team", wantWarning: "ambiguous key (normalising it twice gives different patterns): skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"auths":{` + quote(tt.key) + `:{"username":"u","password":"p"}}}`
			got, err := Parse([]byte(doc), "doc")
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", doc, err)
			}
			var keys, warnings []string
			for _, e := range got.Entries {
				keys = append(keys, e.Key)
			}
			for _, w := range got.Warnings {
				warnings = append(warnings, w.Problem)
			}
			var wantKeys, wantWarnings []string
			if tt.wantKey != "" {
				wantKeys = []string{tt.wantKey}
			}
			if tt.wantWarning != "" {
				wantWarnings = []string{tt.wantWarning}
			}
			if !cmp.Equal(keys, wantKeys) || !cmp.Equal(warnings, wantWarnings) {
				t.Errorf("Parse(key %q) = keys %q warnings %q, want %q %q", tt.key, keys, warnings, wantKeys, wantWarnings)
			}
		})
	}
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

func TestDecodeAuth(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	raw := func(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name         string
		field        string
		wantUser     string
		wantPassword string
		wantErr      bool
	}{
		{name: "padded", field: enc("user:pass"), wantUser: "user", wantPassword: "pass"},
		{name: "unpadded", field: raw("user:pass"), wantUser: "user", wantPassword: "pass"},
		{name: "unpadded, length a multiple of four", field: raw("user:pas"), wantUser: "user", wantPassword: "pas"},
		{name: "split at the first colon", field: enc("user:pa:ss"), wantUser: "user", wantPassword: "pa:ss"},
		{name: "empty user name", field: enc(":pass"), wantPassword: "pass"},
		{name: "empty password", field: enc("user:"), wantUser: "user"},
		{name: "a space around the field is invalid, as in the kubelet", field: " " + enc("user:pass"), wantErr: true},
		{name: "a trailing newline is skipped by base64", field: enc("user:pass") + "\n", wantUser: "user", wantPassword: "pass"},
		{name: "line breaks inside, as base64 -w76 writes", field: enc("user:pass")[:4] + "\r\n" + enc("user:pass")[4:], wantUser: "user", wantPassword: "pass"},
		{name: "trailing NUL is kept, as in the kubelet", field: enc("user:pass\x00"), wantUser: "user", wantPassword: "pass\x00"},
		{name: "no colon", field: enc("userpass"), wantErr: true},
		{name: "not base64", field: "user:pass", wantErr: true},
		{name: "url-safe alphabet", field: "_-_-", wantErr: true},
		{name: "padding in the middle", field: "dXNl=cjpwYXNz", wantErr: true},
		{name: "impossible length", field: "dXNlc", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pass, err := DecodeAuth(tt.field)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidAuth) {
					t.Errorf("DecodeAuth(%q) = %q, %q, %v, want ErrInvalidAuth", tt.field, user, pass, err)
				}
				return
			}
			if err != nil || user != tt.wantUser || pass != tt.wantPassword {
				t.Errorf("DecodeAuth(%q) = %q, %q, %v, want %q, %q, nil", tt.field, user, pass, err, tt.wantUser, tt.wantPassword)
			}
		})
	}
}

func TestDisplayKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want string
	}{
		{name: "plain", key: "registry.example.io", want: "registry.example.io"},
		{name: "with scheme", key: "https://index.docker.io/v1/", want: "https://index.docker.io/v1/"},
		{name: "user info replaced", key: "https://user:secret@registry.example.io/v2/", want: "https://REDACTED@registry.example.io/v2/"},
		{name: "user info without scheme replaced", key: "user:secret@registry.example.io", want: "REDACTED@registry.example.io"},
		{name: "unparsable user info replaced", key: "user:se%zzcret@registry.example.io", want: "REDACTED@registry.example.io"},
		{name: "at sign before a name without a dot", key: "%zz-secret@x", want: "REDACTED@x"},
		// Found by position (issue 20, 4.5): a password may hold "/", even after digits that
		// make "user:12" look like a host and port.
		{name: "password with a slash", key: "user:12/secret@registry.example.io", want: "REDACTED@registry.example.io"},
		{name: "password with a slash and a scheme", key: "https://user:se/cret@registry.example.io/v1/", want: "https://REDACTED@registry.example.io/v1/"},
		{name: "long key cut", key: strings.Repeat("a", 300), want: strings.Repeat("a", 200) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DisplayKey(tt.key); got != tt.want {
				t.Errorf("DisplayKey(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}
