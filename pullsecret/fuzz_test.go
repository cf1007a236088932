package pullsecret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pullkeys/pullkeys/kubelet"
)

// FuzzCheck feeds check anything: it must not panic, must render its report, must list the
// registries in the kubelet's order with passwords masked, and must not call a Secret without
// a registry good.
func FuzzCheck(f *testing.F) {
	for _, tc := range brokenForms {
		f.Add([]byte(tc.in))
	}
	golden, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.*"))
	for _, g := range golden {
		if data, err := os.ReadFile(g); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(configSecret(goodConfig)))
	f.Add([]byte(goodConfig))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The input as a Secret, and as the docker config inside a good Secret.
		fuzzCheck(t, data)
		fuzzCheck(t, []byte(secretYAML("kubernetes.io/dockerconfigjson", ".dockerconfigjson: "+base64.StdEncoding.EncodeToString(data))))
	})
}

// fuzzCheck checks the invariants of one report.
func fuzzCheck(t *testing.T, data []byte) {
	t.Helper()
	r := Check(data, CheckOptions{Images: []string{"registry.example.io/app", "nginx"}})
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatalf("WriteText: %v", err)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatalf("json.Marshal(report): %v", err)
	}
	if r.secretErrors() == 0 && r.Kind == "Secret" && len(r.Registries) == 0 {
		t.Errorf("Check(%q) has no error and no registry", data)
	}
	for i, reg := range r.Registries {
		if i > 0 && r.Registries[i-1].Pattern < reg.Pattern {
			t.Errorf("Check(%q) registries not in the kubelet's order: %q before %q", data, r.Registries[i-1].Pattern, reg.Pattern)
		}
		if reg.Password != kubelet.Mask(reg.password) {
			t.Errorf("Check(%q) registry %s password %q not masked", data, reg.Key, reg.Password)
		}
	}
}

// FuzzRoundTrip makes a Secret of one entry and checks it: it must be a valid pull secret that
// gives back the same entry, and the masked report must not show the password or the auth.
func FuzzRoundTrip(f *testing.F) {
	f.Add("registry.example.io", "alice", "Secr3t-PW-1", "")
	f.Add("https://index.docker.io/v1/", "bob", "p<a>s&s", "bob@example.io")
	f.Add("registry.example.io:5000/team", "us€r", " pass with spaces\n", "")
	f.Add("*.dkr.ecr.*.amazonaws.com", "AWS", "eyJwYXlsb2FkIjoi", "")
	f.Add("http://[::1]:5000", "u", "", "")
	f.Fuzz(func(t *testing.T, server, user, pass, email string) {
		if ValidateServer(server) != nil || (user == "" && pass == "") || strings.Contains(user, ":") {
			return // not a usable entry; a colon in the user name does not survive "auth"
		}
		for _, s := range []string{server, user, pass, email} {
			if !utf8.ValidString(s) {
				return // JSON strings are UTF-8
			}
		}
		secretFor := func(password string) []byte {
			out, err := Create("regcred", "apps", []Auth{{Server: server, Username: user, Password: password, Email: email}}, FormatYAML)
			if err != nil {
				t.Fatalf("Create(%q, %q, %q, %q): %v", server, user, password, email, err)
			}
			return out
		}
		secret := secretFor(pass)
		r := Check(secret, CheckOptions{ShowSecrets: true})
		if r.Errors() != 0 || len(r.Registries) != 1 {
			t.Fatalf("Check(Create(%q, %q, %q, %q)) = %v, %d registries", server, user, pass, email, r.Findings, len(r.Registries))
		}
		got := r.Registries[0]
		if got.rawKey != server || got.Username != user || got.Password != pass || got.Email != email {
			t.Errorf("round trip of %q %q %q %q gave %q %q %q %q", server, user, pass, email, got.rawKey, got.Username, got.Password, got.Email)
		}

		// The masked report shows neither the password nor the auth, unless they are part of
		// what it shows anyway (the key, the user name, constant text).
		text := func(secret []byte) string {
			var b bytes.Buffer
			_ = Check(secret, CheckOptions{}).WriteText(&b)
			return b.String()
		}
		masked := text(secret)
		other := text(secretFor(strings.Repeat("#", utf8.RuneCountInString(pass))))
		for _, s := range []string{pass, EncodeAuth(user, pass)} {
			if len(s) >= 4 && strings.Contains(masked, s) && !strings.Contains(other, s) {
				t.Errorf("masked report of %q %q %q shows %q:\n%s", server, user, pass, s, masked)
			}
		}
	})
}
