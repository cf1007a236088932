package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Key names one cache entry. Build it with NewKey; the zero Key is the key of no parts.
type Key struct {
	enc string // parts, each prefixed with its length: "2:ab1:c"
}

// NewKey joins parts into a key. Each part is prefixed with its length, so ("ab", "c") and
// ("a", "bc") are different keys. Parts are stored in cache files, so they must not be
// secrets: pass a secret through HashIdentity first.
func NewKey(parts ...string) Key {
	var b []byte
	for _, p := range parts {
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, ':')
		b = append(b, p...)
	}
	return Key{enc: string(b)}
}

// String returns a short prefix of the key's hash, which is also the prefix of its file name,
// so that a log line can name a key without repeating its parts.
func (k Key) String() string { return k.hash()[:16] }

// hash is the hex SHA-256 of the key: its file name without extension.
func (k Key) hash() string {
	sum := sha256.Sum256([]byte(k.enc))
	return hex.EncodeToString(sum[:])
}

// HashIdentity returns the hex SHA-256 of a secret that identifies the caller (a service
// account token, a role ARN with its session), fit to be a key part.
func HashIdentity(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
