package dockercfg

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pullkeys/pullkeys/internal/redact"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"

	"github.com/pullkeys/pullkeys/providers/keyring"
)

// Sentinel errors, for errors.Is.
var (
	// ErrMalformed: a docker config document is not one this package can read.
	ErrMalformed = errors.New("malformed docker config")
	// ErrInvalidAuth: an "auth" field is not base64 of "user:password".
	ErrInvalidAuth = errors.New("invalid auth field")
)

// Format is the shape of a docker config document.
type Format int

const (
	// FormatConfigJSON is the shape of ~/.docker/config.json and of the .dockerconfigjson key of
	// a kubernetes.io/dockerconfigjson secret: {"auths": {...}, "credsStore": ..., "credHelpers": {...}}.
	FormatConfigJSON Format = iota
	// FormatLegacy is the shape of ~/.dockercfg and of the .dockercfg key of a
	// kubernetes.io/dockercfg secret: {"registry": {"auth": ..., "email": ...}, ...}.
	FormatLegacy
)

// String returns the file name the format is known by.
func (f Format) String() string {
	switch f {
	case FormatConfigJSON:
		return "config.json"
	case FormatLegacy:
		return ".dockercfg"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Config is one parsed docker config document.
type Config struct {
	// Origin names where the document came from (a file name, "metadata google-dockercfg").
	// It is used in errors and logs, never the content.
	Origin string
	// Format is the shape the document had.
	Format Format
	// Entries are the usable credentials, at most one per Key, sorted by Key.
	Entries []Entry
	// Warnings say what was skipped and why. They name keys and fields, never values.
	Warnings []Warning
}

// Entry is the credential a docker config offers for one key: either static (Helper is
// empty) or to be asked of the credential helper docker-credential-<Helper>.
type Entry struct {
	// Key is the pattern, normalised by keyring.NormalizeKey (a fixed point of it):
	// "https://index.docker.io/v1/" is stored as "index.docker.io".
	Key string
	// ServerURL is the key as written in the document: what a credential helper is asked for.
	ServerURL string
	// Username and Password are static credentials: from "auth" (base64 of "user:password")
	// when present, otherwise from "username" and "password".
	Username, Password string
	// IdentityToken is docker's "identitytoken" (an OAuth2 refresh token). See
	// ResolveOptions.IdentityTokenUsername for how it reaches the kubelet.
	IdentityToken string
	// Helper is the credential helper's name (the suffix of docker-credential-<name>) when the
	// credential comes from credHelpers or credsStore; empty for static credentials.
	Helper string
}

// Warning is one thing Parse or LoadFile skipped or found suspicious.
type Warning struct {
	// Key is the registry key concerned (with any user:password@ removed), or empty when the
	// warning is about the whole document.
	Key string
	// Problem says what is wrong, never quoting a value.
	Problem string
}

// String returns the warning as one line.
func (w Warning) String() string {
	if w.Key == "" {
		return w.Problem
	}
	return fmt.Sprintf("key %s: %s", w.Key, w.Problem)
}

// configFields holds the JSON names of docker's ConfigFile fields, lower-cased (encoding/json
// matches object keys to fields case-insensitively, and so does the detection).
var configFields = sync.OnceValue(func() map[string]bool {
	fields := make(map[string]bool)
	t := reflect.TypeFor[configfile.ConfigFile]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[strings.ToLower(name)] = true
		}
	}
	return fields
})

// configJSON is docker's ConfigFile with the auths entries kept raw, so that one bad entry is
// skipped with a warning rather than failing the whole document.
type configJSON struct {
	configfile.ConfigFile
	Auths map[string]json.RawMessage `json:"auths"`
}

// helperName is what a credsStore or credHelpers value may be: docker runs
// docker-credential-<name> from $PATH, so a name must not be a path.
var helperName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// Parse reads a docker config document in either shape: config.json ({"auths": {...}}, with
// credsStore and credHelpers) or legacy .dockercfg ({"registry": {"auth": ...}}). A document
// whose top-level object has any of docker's config.json fields ("auths", "credsStore",
// "credHelpers", "HttpHeaders", ...) is read as config.json, any other object as .dockercfg.
//
// origin names the document in errors and warnings. A document that is not a JSON object, or
// whose config.json fields have the wrong JSON types, is an error wrapping ErrMalformed; a bad
// entry is skipped and named in Config.Warnings. Neither ever quotes the document.
func Parse(data []byte, origin string) (*Config, error) {
	fail := func(format string, args ...any) (*Config, error) {
		return nil, fmt.Errorf("parse %s: %w: %s", origin, ErrMalformed, fmt.Sprintf(format, args...))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fail("empty document")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return fail("%s", JSONProblem(data, err, "the document"))
	}
	if top == nil {
		return fail("the document is null, want a JSON object")
	}
	cfg := &Config{Origin: origin, Format: FormatLegacy}
	for k := range top {
		if configFields()[strings.ToLower(k)] {
			cfg.Format = FormatConfigJSON
			break
		}
	}
	b := builder{cfg: cfg, byKey: make(map[string]sourced)}
	if cfg.Format == FormatConfigJSON {
		var doc configJSON
		if err := json.Unmarshal(data, &doc); err != nil {
			return fail("%s", JSONProblem(data, err, "the document"))
		}
		store := doc.CredentialsStore
		if store != "" && !helperName.MatchString(store) {
			b.warn("", "credsStore is not a credential helper name (want letters, digits, '.', '_', '+', '-'): ignored")
			store = ""
		}
		// credHelpers first: for a registry that has one, docker asks that helper and
		// ignores both auths and credsStore.
		for _, raw := range sortedKeys(doc.CredentialHelpers) {
			name := doc.CredentialHelpers[raw]
			if !helperName.MatchString(name) {
				b.warn(raw, "credHelpers value is not a credential helper name (want letters, digits, '.', '_', '+', '-'): skipped")
				continue
			}
			b.helper(raw, name, "credHelpers")
		}
		for _, raw := range sortedKeys(doc.Auths) {
			b.auth(raw, doc.Auths[raw], store)
		}
	} else {
		for _, raw := range sortedKeys(top) {
			b.auth(raw, top[raw], "")
		}
	}
	cfg.Entries = make([]Entry, 0, len(b.byKey))
	for _, s := range b.byKey {
		cfg.Entries = append(cfg.Entries, s.Entry)
	}
	sort.Slice(cfg.Entries, func(i, j int) bool { return cfg.Entries[i].Key < cfg.Entries[j].Key })
	return cfg, nil
}

// builder collects the entries of one document.
type builder struct {
	cfg   *Config
	byKey map[string]sourced
}

// sourced is an entry with the section of the document it came from.
type sourced struct {
	Entry
	section string
}

func (b *builder) warn(rawKey, problem string) {
	key := ""
	if rawKey != "" {
		key = DisplayKey(rawKey)
	}
	b.cfg.Warnings = append(b.cfg.Warnings, Warning{Key: key, Problem: problem})
}

// key normalises a raw key, or warns and returns "".
func (b *builder) key(raw string) string {
	norm, err := keyring.NormalizeKey(raw)
	switch {
	case err != nil:
		b.warn(raw, "not a registry (does not parse as a URL): skipped")
		return ""
	case norm == "" || strings.HasPrefix(norm, "/"):
		b.warn(raw, "no registry host: skipped")
		return ""
	}
	// The kubelet normalises the keys of our answer once more; a key that normalisation
	// changes again (such as ".../v2/v1/x") would be matched differently there than here.
	if again, err := keyring.NormalizeKey(norm); err != nil || again != norm {
		b.warn(raw, "ambiguous key (normalising it twice gives different patterns): skipped")
		return ""
	}
	return norm
}

// add records e unless an entry with the same normalised key is already there.
func (b *builder) add(raw string, e Entry, section string) {
	if prev, ok := b.byKey[e.Key]; ok {
		if prev.section == "credHelpers" && section == "auths" {
			return // for a registry in credHelpers, docker ignores auths and credsStore
		}
		b.warn(raw, fmt.Sprintf("same registry as key %s in %s: skipped", DisplayKey(prev.ServerURL), prev.section))
		return
	}
	b.byKey[e.Key] = sourced{Entry: e, section: section}
}

// helper records a registry served by a credential helper.
func (b *builder) helper(raw, name, section string) {
	key := b.key(raw)
	if key == "" {
		return
	}
	if host, _, _ := strings.Cut(key, "/"); strings.ContainsAny(host, "*?[") {
		b.warn(raw, "a registry served by a credential helper must be an exact host (docker asks helpers for the host): skipped")
		return
	}
	b.add(raw, Entry{Key: key, ServerURL: raw, Helper: name}, section)
}

// auth records one auths (or legacy) entry.
func (b *builder) auth(raw string, data json.RawMessage, store string) {
	key := b.key(raw)
	if key == "" {
		return
	}
	var ac types.AuthConfig
	if err := json.Unmarshal(data, &ac); err != nil {
		b.warn(raw, JSONProblem(data, err, "the entry")+": skipped")
		return
	}
	if ac.Auth != "" {
		user, pass, err := DecodeAuth(ac.Auth)
		if err != nil {
			b.warn(raw, err.Error()+": skipped")
			return
		}
		ac.Username, ac.Password = user, pass
	}
	if !utf8.ValidString(ac.Username) || !utf8.ValidString(ac.Password) || !utf8.ValidString(ac.IdentityToken) {
		// The kubelet hands credentials to the runtime over gRPC, whose strings must be UTF-8.
		b.warn(raw, "credentials are not valid UTF-8: skipped")
		return
	}
	e := Entry{Key: key, ServerURL: raw, Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken}
	if e.Username == "" && e.Password == "" && e.IdentityToken == "" {
		switch {
		case store != "":
			// docker login through a credsStore leaves an empty entry in auths: the helper
			// holds the credentials.
			b.helper(raw, store, "auths")
		case ac.RegistryToken != "":
			b.warn(raw, "only a registrytoken, which the kubelet cannot pass on: skipped")
		}
		return
	}
	b.add(raw, e, "auths")
}

// DecodeAuth decodes a docker config "auth" field, base64 of "user:password", the way the
// kubelet does: padded when it ends in "=", unpadded otherwise, split at the first colon.
// As in the kubelet, white space only counts when choosing the padding: the field itself is
// decoded as it is, so a space around it makes it invalid (newlines are skipped by base64).
// Errors wrap ErrInvalidAuth and never quote the field.
func DecodeAuth(field string) (username, password string, err error) {
	enc := base64.RawStdEncoding
	if strings.HasSuffix(strings.TrimSpace(field), "=") {
		enc = base64.StdEncoding
	}
	decoded, err := enc.DecodeString(field)
	if err != nil {
		var corrupt base64.CorruptInputError
		if errors.As(err, &corrupt) {
			return "", "", fmt.Errorf("%w: not base64 (bad data at byte %d)", ErrInvalidAuth, int64(corrupt))
		}
		return "", "", fmt.Errorf("%w: not base64", ErrInvalidAuth)
	}
	username, password, ok := strings.Cut(string(decoded), ":")
	if !ok {
		return "", "", fmt.Errorf("%w: no colon in the decoded value (want base64 of user:password)", ErrInvalidAuth)
	}
	return username, password, nil
}

// DisplayKey returns a registry key fit for a log line: any user:password@ is replaced by
// REDACTED@ (found by its position: redact.Reference) and a long key is cut short.
func DisplayKey(raw string) string {
	shown, _ := redact.Reference(raw)
	return truncate(shown, 200)
}

// JSONProblem describes a JSON decoding error of data by position and JSON kinds only: Go's
// messages can quote a character of the input, or a whole number, which may be part of a
// secret. subject names the value concerned when the problem is its own type ("" for "a").
// Package pullsecret shares it.
func JSONProblem(data []byte, err error, subject string) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		line, col := position(data, syntax.Offset)
		return fmt.Sprintf("invalid JSON at line %d, column %d", line, col)
	case errors.As(err, &typ):
		got, _, _ := strings.Cut(typ.Value, " ")
		want := jsonKind(typ.Type)
		if typ.Field != "" {
			return fmt.Sprintf("field %q is a JSON %s, want %s", strings.TrimPrefix(typ.Field, "ConfigFile."), got, want)
		}
		if subject == "" {
			return fmt.Sprintf("a JSON %s, want %s", got, want)
		}
		return fmt.Sprintf("%s is a JSON %s, want %s", subject, got, want)
	case strings.Contains(err.Error(), "unexpected end of JSON input"):
		return "invalid JSON: it ends early"
	case json.Valid(data):
		return "a field holds a value of the wrong form (a timestamp that does not parse, say)"
	}
	return "invalid JSON"
}

// jsonKind names the JSON kind that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Bool:
		return "a boolean"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another type"
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset < 0 {
		offset = 0
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
