package redact

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestReference(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name   string
		ref    string
		want   string
		wantOK bool
	}{
		{name: "none", ref: "registry.example.io/app:1", want: "registry.example.io/app:1"},
		{name: "digest", ref: "registry.example.io/app@" + digest, want: "registry.example.io/app@" + digest},
		{name: "an at sign that is not a digest's: hidden up to it", ref: "registry.example.io/app@latest", want: "REDACTED@latest", wantOK: true},
		{name: "unparsable docker config key", ref: "%zz-key-password@x", want: "REDACTED@x", wantOK: true},
		{name: "user and password", ref: "user:pw@registry.example.io/app", want: "REDACTED@registry.example.io/app", wantOK: true},
		{name: "password with a slash", ref: "robot:S3cr/etPass@registry.example.io/app", want: "REDACTED@registry.example.io/app", wantOK: true},
		{name: "password with an at sign", ref: "robot:p@ss@registry.example.io/app", want: "REDACTED@registry.example.io/app", wantOK: true},
		{name: "scheme kept", ref: "https://robot:a/b@registry.example.io/app", want: "https://REDACTED@registry.example.io/app", wantOK: true},
		{name: "short userinfo", ref: "a@registry.example.io/app", want: "REDACTED@registry.example.io/app", wantOK: true},
		{name: "host with a port", ref: "u:p/w@localhost:5000/app", want: "REDACTED@localhost:5000/app", wantOK: true},
		{name: "localhost", ref: "u:p@localhost/app", want: "REDACTED@localhost/app", wantOK: true},
		{name: "userinfo and digest", ref: "u:p/w@registry.example.io/app@" + digest, want: "REDACTED@registry.example.io/app@" + digest, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Reference(tt.ref)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Reference(%q) = %q, %v, want %q, %v", tt.ref, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		secrets []string
		want    string
	}{
		{name: "every occurrence", text: "a hunter22 b hunter22", secrets: []string{"hunter22"}, want: "a [redacted] b [redacted]"},
		{name: "longest first", text: "user:hunter22", secrets: []string{"hunter22", "user:hunter22"}, want: "[redacted]"},
		{name: "too short left alone", text: "invalid abc", secrets: []string{"a", "abc", ""}, want: "invalid abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.text, tt.secrets...); got != tt.want {
				t.Errorf("String(%q, %q) = %q, want %q", tt.text, tt.secrets, got, tt.want)
			}
		})
	}
}

func TestForms(t *testing.T) {
	// base64("robot:pa?>ss") holds "+" or "/" in its standard form and "-" or "_" in its
	// URL-safe one, and padding: each form is another string to find.
	const user, pw = "robot", "pa?>ss~~"
	forms := Forms(user, pw)
	text := ""
	for _, f := range forms {
		text += f + "\n"
	}
	red := String(text, forms...)
	for _, f := range forms {
		if strings.Contains(red, f) {
			t.Errorf("String(text, Forms(%q, %q)...) left %q in %q", user, pw, f, red)
		}
	}
	for _, want := range []string{pw, user + ":" + pw, "cm9ib3Q6cGE_PnNzfn4", "cm9ib3Q6cGE/PnNzfn4=", "cGE/PnNzfn4=", "cGE_PnNzfn4"} {
		found := false
		for _, f := range forms {
			found = found || f == want
		}
		if !found {
			t.Errorf("Forms(%q, %q) = %q, want it to hold %q", user, pw, forms, want)
		}
	}
	if Forms(user, "") != nil {
		t.Errorf("Forms(%q, \"\") = %q, want none", user, Forms(user, ""))
	}
}

var errSentinel = errors.New("sentinel")

func TestError(t *testing.T) {
	err := fmt.Errorf("call with token tok-123456: %w", errSentinel)
	got := Error(err, "tok-123456")
	if strings.Contains(got.Error(), "tok-123456") || !errors.Is(got, errSentinel) {
		t.Errorf("Error(%v) = %v (Is sentinel %v), want the token out and the sentinel kept", err, got, errors.Is(got, errSentinel))
	}
	if errors.Unwrap(got) != nil {
		t.Errorf("Error(%v) unwraps to %v, want nothing (the original text)", err, errors.Unwrap(got))
	}
	if same := Error(err, "absent-secret"); same != err {
		t.Errorf("Error with nothing to take out = %v, want err itself", same)
	}
}

func TestURL(t *testing.T) {
	if got, want := URL("https://u:p@sts.example.com/v1/token?key=k#f"), "https://sts.example.com/v1/token"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if got := URL("http://[::1"); got != "(unparsable URL)" {
		t.Errorf("URL(unparsable) = %q", got)
	}
}
