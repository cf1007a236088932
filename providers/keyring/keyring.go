package keyring

import (
	"sort"
)

// Credential is one username and password found under a key.
type Credential struct {
	// Key is the normalised pattern the credential is stored under.
	Key      string
	Username string
	Password string
	// Source says where the credential came from (a file name, a provider), for diagnostics.
	Source string
}

// Keyring holds credentials by normalised key, like the kubelet's BasicDockerKeyring.
// The zero value is empty and ready to use. It is not safe for concurrent writes.
type Keyring struct {
	index []string // keys, reverse-sorted, unique
	creds map[string][]Credential
}

// Add stores a credential under key, normalised by NormalizeKey. A key may hold several
// credentials; they are returned in the order added.
func (k *Keyring) Add(key string, c Credential) error {
	norm, err := NormalizeKey(key)
	if err != nil {
		return err
	}
	if k.creds == nil {
		k.creds = make(map[string][]Credential)
	}
	c.Key = norm
	if _, seen := k.creds[norm]; !seen {
		k.index = append(k.index, norm)
		sort.Sort(sort.Reverse(sort.StringSlice(k.index)))
	}
	k.creds[norm] = append(k.creds[norm], c)
	return nil
}

// Keys returns the normalised keys in the order Lookup tries them.
func (k *Keyring) Keys() []string { return append([]string(nil), k.index...) }

// Lookup returns every credential that matches image (normalised, as the kubelet sends it),
// in the kubelet's order: keys in reverse lexical order, credentials of one key in the order
// added. When nothing matches and image is on Docker Hub, the credentials stored under
// index.docker.io are returned.
func (k *Keyring) Lookup(image string) []Credential {
	var out []Credential
	for _, key := range k.index {
		if ok, _ := Match(key, image); ok {
			out = append(out, k.creds[key]...)
		}
	}
	if len(out) > 0 {
		return out
	}
	if IsDockerHub(image) {
		return append(out, k.creds[DockerHubKey]...)
	}
	return nil
}
