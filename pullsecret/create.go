package pullsecret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/pullkeys/pullkeys/providers/keyring"
)

// DefaultServer is kubectl's default --docker-server: Docker Hub's key in docker config files.
const DefaultServer = "https://index.docker.io/v1/"

// Sentinel errors, for errors.Is.
var (
	// ErrInvalid: a name, namespace, server or output format that cannot make a valid Secret.
	ErrInvalid = errors.New("invalid")
	// ErrNoCredentials: the source holds no credentials to pack (a provider answered none that
	// match the image, a docker config has none for the images asked for).
	ErrNoCredentials = errors.New("no credentials")
)

// Auth is one entry of a docker config's "auths": the credentials for one registry key.
type Auth struct {
	// Server is the key as written in the docker config: "registry.example.io",
	// "https://index.docker.io/v1/", "registry.example.io/team". The kubelet normalises it
	// with keyring.NormalizeKey and matches images against it with keyring.Match.
	Server   string
	Username string
	Password string
	// Email is optional and unused by the kubelet and the runtimes; kubectl still writes it.
	Email string
}

// dockerConfigJSON is the document kubectl writes under .dockerconfigjson (kubectl's
// DockerConfigJSON, pkg/cmd/create/create_secret_docker.go): "auths" and, never set here,
// "HttpHeaders".
type dockerConfigJSON struct {
	Auths map[string]dockerConfigEntry `json:"auths"`
}

// dockerConfigEntry is one auths entry, fields in kubectl's order and with its omitempty.
type dockerConfigEntry struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Email    string `json:"email,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// EncodeAuth returns the "auth" field of a docker config entry: base64 (standard, padded) of
// "username:password", as kubectl and docker write it.
func EncodeAuth(username, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
}

// EncodeDockerConfigJSON returns the .dockerconfigjson document for auths, byte for byte as
// kubectl create secret docker-registry writes it: {"auths":{"<server>":{"username":…,
// "password":…,"email":…,"auth":…}}}, keys sorted, empty fields left out, "auth" always
// present. Servers must be distinct and parse as registry keys.
func EncodeDockerConfigJSON(auths []Auth) ([]byte, error) {
	doc := dockerConfigJSON{Auths: make(map[string]dockerConfigEntry, len(auths))}
	for _, a := range auths {
		if err := ValidateServer(a.Server); err != nil {
			return nil, err
		}
		if _, dup := doc.Auths[a.Server]; dup {
			return nil, fmt.Errorf("docker config: %w: server %q given twice", ErrInvalid, a.Server)
		}
		doc.Auths[a.Server] = dockerConfigEntry{
			Username: a.Username,
			Password: a.Password,
			Email:    a.Email,
			Auth:     EncodeAuth(a.Username, a.Password),
		}
	}
	return json.Marshal(doc)
}

// ValidateServer checks that server is a registry key the kubelet can use: it parses as a URL
// (with or without scheme) and names a host.
func ValidateServer(server string) error {
	if strings.TrimSpace(server) == "" {
		return fmt.Errorf("docker server: %w: empty", ErrInvalid)
	}
	if strings.TrimSpace(server) != server {
		return fmt.Errorf("docker server %q: %w: leading or trailing white space", server, ErrInvalid)
	}
	norm, err := keyring.NormalizeKey(server)
	if err != nil {
		return fmt.Errorf("docker server %q: %w: %w", server, ErrInvalid, err)
	}
	if norm == "" || strings.HasPrefix(norm, "/") {
		return fmt.Errorf("docker server %q: %w: no registry host", server, ErrInvalid)
	}
	return nil
}

// ValidateName checks a Secret's name and namespace as the API server does: the name a DNS
// subdomain, the namespace (when set) a DNS label.
func ValidateName(name, namespace string) error {
	if name == "" {
		return fmt.Errorf("secret name: %w: empty", ErrInvalid)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("secret name %q: %w: %s", name, ErrInvalid, strings.Join(errs, "; "))
	}
	if namespace != "" {
		if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
			return fmt.Errorf("namespace %q: %w: %s", namespace, ErrInvalid, strings.Join(errs, "; "))
		}
	}
	return nil
}

// NewSecret returns the kubernetes.io/dockerconfigjson Secret that kubectl create secret
// docker-registry builds: apiVersion v1, kind Secret, the name, the namespace only when given
// (kubectl writes it only for an explicit --namespace), and dockerConfigJSON under
// .dockerconfigjson.
func NewSecret(name, namespace string, dockerConfigJSON []byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: corev1.SchemeGroupVersion.String(), Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: dockerConfigJSON},
	}
}

// Output formats of Encode.
const (
	FormatYAML = "yaml"
	FormatJSON = "json"
)

// Encode writes secret as kubectl prints it with -o yaml (sigs.k8s.io/yaml: keys sorted,
// apiVersion, data, kind, metadata, type) or -o json (encoding/json indented by four spaces,
// in the API's field order, and a newline). With apimachinery v0.34 and later a zero
// creationTimestamp is left out, as current kubectl does.
func Encode(secret *corev1.Secret, format string) ([]byte, error) {
	switch format {
	case FormatYAML, "":
		return yaml.Marshal(secret)
	case FormatJSON:
		var buf bytes.Buffer
		data, err := json.MarshalIndent(secret, "", "    ")
		if err != nil {
			return nil, err
		}
		buf.Write(data)
		buf.WriteByte('\n')
		return buf.Bytes(), nil
	}
	return nil, fmt.Errorf("output format %q: %w: want yaml or json", format, ErrInvalid)
}

// Create builds the Secret for auths and encodes it (see EncodeDockerConfigJSON, NewSecret
// and Encode).
func Create(name, namespace string, auths []Auth, format string) ([]byte, error) {
	if err := ValidateName(name, namespace); err != nil {
		return nil, err
	}
	if len(auths) == 0 {
		return nil, fmt.Errorf("secret %s: %w to pack", name, ErrNoCredentials)
	}
	cfg, err := EncodeDockerConfigJSON(auths)
	if err != nil {
		return nil, err
	}
	return Encode(NewSecret(name, namespace, cfg), format)
}
