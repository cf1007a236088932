package pullsecret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pullkeys/pullkeys/dockercfg"
)

// base64Problem explains why s (a base64 value) does not decode, by position and by the class
// of the offending character, never quoting the value.
func base64Problem(s string, err error) string {
	var corrupt base64.CorruptInputError
	if !errors.As(err, &corrupt) {
		return "not base64"
	}
	off := int(corrupt)
	at := fmt.Sprintf("bad data at byte %d of %d", off, len(s))
	if off >= len(s) {
		return at + ": the value ends early (a character missing, or '=' padding incomplete)"
	}
	c := s[off]
	switch {
	case off == 0 && c == '{':
		return at + ": it starts with '{', so it is the JSON itself, not base64 (base64-encode it under data, or put the plain JSON under stringData)"
	case c == ' ' || c == '\t':
		return at + ", a space: was the base64 wrapped over several lines? A plain YAML value folds line breaks into spaces; write it on one line (base64 -w0) or as a block (|)"
	case c == '-' || c == '_':
		return at + ", a '-' or '_': that is the URL-safe base64 alphabet; Kubernetes wants standard base64 ('+' and '/')"
	case c == '=':
		return at + ", a '=' (padding) before the end: are two base64 values run together?"
	case c == '"' || c == '\'':
		return at + ", a quote: was the value quoted twice?"
	case c >= 0x80:
		return at + ", a non-ASCII byte"
	case isBase64Char(c) && off > 0 && s[off-1] == '=':
		return at + ": data after '=' padding: are two base64 values run together?"
	case isBase64Char(c):
		return at + ": the length is not a multiple of 4 (a character missing or extra, or '=' padding left out)"
	case c < 0x20 || c == 0x7f:
		return at + ", a control character"
	}
	return at + ", a character outside the base64 alphabet"
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

// decodeDataValue decodes a Secret data value as the API server does (encoding/json's []byte:
// standard base64 with padding; line breaks ignored).
func decodeDataValue(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(s)
}

// decodeKubeletAuth decodes a docker config "auth" field exactly as the kubelet does
// (pkg/credentialprovider decodeDockerConfigFieldAuth): padded base64 when the field, white
// space trimmed, ends in "=", unpadded otherwise; the field itself is decoded untrimmed; the
// result split at the first colon.
func decodeKubeletAuth(field string) (user, password string, err error) {
	enc := base64.RawStdEncoding
	if strings.HasSuffix(strings.TrimSpace(field), "=") {
		enc = base64.StdEncoding
	}
	decoded, err := enc.DecodeString(field)
	if err != nil {
		return "", "", fmt.Errorf("not base64: %s", base64Problem(field, err))
	}
	user, password, ok := strings.Cut(string(decoded), ":")
	if !ok {
		return "", "", errors.New("decodes to text without a colon: want base64 of user:password (is it the password or token alone?)")
	}
	return user, password, nil
}

// jsonProblem describes a JSON decoding error by position and JSON kinds only (the
// dockercfg parser's wording): Go's messages may quote part of the input, which may be a secret.
func jsonProblem(data []byte, err error) string { return dockercfg.JSONProblem(data, err, "") }

// kindOf names the JSON kind of a raw value.
func kindOf(raw json.RawMessage) string {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 {
		return "nothing"
	}
	switch s[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// looksLikeBase64JSON reports whether data, not JSON itself, is base64 of a JSON object:
// the mark of a value encoded once too often (data) or not decoded (stringData).
func looksLikeBase64JSON(data []byte) bool {
	s := strings.TrimSpace(string(data))
	if s == "" || json.Valid(data) {
		return false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if dec, err := enc.DecodeString(s); err == nil {
			dec = bytes.TrimSpace(dec)
			if len(dec) > 0 && dec[0] == '{' && json.Valid(dec) {
				return true
			}
		}
	}
	return false
}

// untrimmed reports whether s starts or ends with white space: a value encoded from the output
// of "echo" rather than "echo -n" or printf ends with a line break.
func untrimmed(s string) bool {
	return s != strings.TrimSpace(s)
}
