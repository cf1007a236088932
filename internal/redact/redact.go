// Package redact is the one place where pullkeys takes secrets out of what it shows: log
// lines, error messages, a plugin's stderr quoted by `pullkeys check`.
//
// Two ways, never mixed up:
//   - by position, where the secret's place is known from the syntax: the userinfo of an image
//     reference or a URL (Reference, URL). Nothing else in the text is touched, however short
//     the userinfo ("a@registry/app" must not turn "invalid" into "invREDACTEDlid").
//   - by value, where a known secret may appear anywhere in free text (String, Error): every
//     occurrence of each secret, and of each form a program may print it in (Forms), is
//     replaced. Values shorter than MinLen are left alone: replacing them would mangle the
//     text around them while hiding next to nothing.
package redact

import (
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strings"
)

// Marks put where something was taken out.
const (
	// Mark replaces a secret found by value.
	Mark = "[redacted]"
	// UserinfoMark replaces the userinfo of a reference or URL.
	UserinfoMark = "REDACTED"
)

// MinLen is the shortest secret String replaces.
const MinLen = 4

// String returns text with every occurrence of each secret (of at least MinLen bytes)
// replaced by Mark, longest first, so that a secret holding another is replaced whole.
func String(text string, secrets ...string) string {
	ss := make([]string, 0, len(secrets))
	for _, s := range secrets {
		if len(s) >= MinLen {
			ss = append(ss, s)
		}
	}
	slices.SortFunc(ss, func(a, b string) int { return len(b) - len(a) })
	for _, s := range ss {
		text = strings.ReplaceAll(text, s, Mark)
	}
	return text
}

// Forms returns the forms in which a program may print a credential: the password, the
// "user:password" pair, and the standard, URL-safe and unpadded base64 encodings of both (the
// "auth" field of a docker config is base64 of user:password). user may be empty.
func Forms(user, password string) []string {
	if password == "" {
		return nil
	}
	plain := []string{password}
	if user != "" {
		plain = append(plain, user+":"+password)
	}
	out := slices.Clone(plain)
	for _, p := range plain {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			out = append(out, enc.EncodeToString([]byte(p)))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Error returns err with String applied to its message, or err itself when there was nothing
// to take out. The result matches what err matched (errors.Is) but does not unwrap to it, so
// the original text cannot be printed through it.
func Error(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	red := String(msg, secrets...)
	if red == msg {
		return err
	}
	return &redactedError{msg: red, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Is reports whether the original error matches target.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// Reference returns an image reference typed by hand with its userinfo ("user:password@" before
// the registry host, after an optional scheme) replaced by UserinfoMark, and whether there was
// one. The userinfo is found by its position, not by its text: it ends at the last "@" that is
// not a digest's, so a password may hold "/" or "@". No valid reference or registry key has
// another "@", so in doubt more is hidden, never less: "robot:S3cr/etPass@registry.example.io/app"
// becomes "REDACTED@registry.example.io/app", "registry.example.io/app@latest" becomes
// "REDACTED@latest"; "registry.example.io/app@sha256:…" is left as it is.
func Reference(ref string) (string, bool) {
	start := 0
	if i := strings.Index(ref, "://"); i >= 0 && !strings.ContainsAny(ref[:i], "/@") {
		start = i + 3
	}
	end := len(ref)
	if i := strings.LastIndexByte(ref, '@'); i >= start && isDigest(ref[i+1:]) {
		end = i // a digest's "@" is not userinfo
	}
	if at := strings.LastIndexByte(ref[start:end], '@'); at >= 0 {
		return ref[:start] + UserinfoMark + ref[start+at:], true
	}
	return ref, false
}

// isDigest reports whether s has the shape of a digest: algorithm ":" encoded, as in
// "sha256:ab12…" (github.com/distribution/reference's anchored digest, loosely).
func isDigest(s string) bool {
	alg, enc, ok := strings.Cut(s, ":")
	if !ok || alg == "" || len(enc) < 32 {
		return false
	}
	for _, r := range alg {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune("+.-_", r)) {
			return false
		}
	}
	for _, r := range enc {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("=_-", r)) {
			return false
		}
	}
	return true
}

// URL returns raw without its userinfo, query and fragment, for messages; "(unparsable URL)"
// when it does not parse.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
