package ecr

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/pullkeys/pullkeys/internal/satoken"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pullkeys/pullkeys/cache"
)

// Where the role for a service account token comes from, in order.
const (
	// AnnotationECRRoleARN is the service account annotation naming the role to assume for
	// ECR pulls only.
	AnnotationECRRoleARN = "eks.amazonaws.com/ecr-role-arn"
	// AnnotationRoleARN is the IRSA annotation, used when AnnotationECRRoleARN is absent.
	AnnotationRoleARN = "eks.amazonaws.com/role-arn"
	// EnvRoleARN names the environment variable holding the role to assume for service
	// account tokens whose service account has neither annotation (the default of --role-arn).
	EnvRoleARN = "AWS_ECR_ROLE_ARN"
)

// ErrInvalidRoleARN is returned (wrapped) when the role to assume is not an IAM role ARN.
var ErrInvalidRoleARN = errors.New("invalid IAM role ARN")

// RoleSource says where the role of a request came from.
type RoleSource string

// The sources of a role, in the order they are tried.
const (
	RoleFromECRAnnotation RoleSource = "annotation " + AnnotationECRRoleARN
	RoleFromAnnotation    RoleSource = "annotation " + AnnotationRoleARN
	RoleFromDefault       RoleSource = "default role (--role-arn, $" + EnvRoleARN + ")"
	// RoleNone: no service account token, or one with no role to assume: the node's identity
	// (the SDK's default credential chain) is used.
	RoleNone RoleSource = ""
)

// RoleFor picks the role to assume for a request: none without a service account token,
// else the eks.amazonaws.com/ecr-role-arn annotation, else eks.amazonaws.com/role-arn, else
// defaultRole (which may be empty: the node's identity is then used). Empty and blank values
// count as absent.
func RoleFor(token string, annotations map[string]string, defaultRole string) (string, RoleSource) {
	if token == "" {
		return "", RoleNone
	}
	if v := strings.TrimSpace(annotations[AnnotationECRRoleARN]); v != "" {
		return v, RoleFromECRAnnotation
	}
	if v := strings.TrimSpace(annotations[AnnotationRoleARN]); v != "" {
		return v, RoleFromAnnotation
	}
	if v := strings.TrimSpace(defaultRole); v != "" {
		return v, RoleFromDefault
	}
	return "", RoleNone
}

// ValidateRoleARN checks that arn has the shape arn:<partition>:iam::<12-digit account>:role/<name>.
func ValidateRoleARN(arn string) error {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "iam" ||
		parts[3] != "" || !isAccount(parts[4]) || !strings.HasPrefix(parts[5], "role/") || len(parts[5]) == len("role/") ||
		len(arn) > 2048 {
		if len(arn) > 120 {
			arn = arn[:120] + "…"
		}
		return fmt.Errorf("%w %q: want arn:aws:iam::<12-digit account>:role/<name>", ErrInvalidRoleARN, arn)
	}
	return nil
}

// parseClaims decodes the payload of a JWT. ok is false for anything that is not a JWT with
// a subject.
func parseClaims(token string) (satoken.Claims, bool) {
	c, ok := satoken.Parse(token)
	if !ok || c.Subject == "" {
		return satoken.Claims{}, false
	}
	return c, true
}

// serviceAccountID names the service account of a token for cache keys (satoken.ID).
func serviceAccountID(token string) string { return satoken.ID(token) }

// sessionName returns the RoleSessionName for a token: pullkeys-<namespace>-<name> for a
// service account token, cut to STS's 64 characters, else "pullkeys". It shows in CloudTrail.
func sessionName(token string) string {
	c, _ := parseClaims(token)
	ns, name := c.K8s.Namespace, c.K8s.ServiceAccount.Name
	if ns == "" || name == "" {
		if rest, ok := strings.CutPrefix(c.Subject, "system:serviceaccount:"); ok {
			ns, name, _ = strings.Cut(rest, ":")
		}
	}
	if ns == "" || name == "" {
		return "pullkeys"
	}
	var b strings.Builder
	for _, r := range "pullkeys-" + ns + "-" + name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_+=,.@-", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	return b.String()
}

// identityEnv lists the environment variables that decide which AWS identity and which
// endpoints the SDK uses for the node: every input of its default credential chain that comes
// from the environment (HOME included: it locates ~/.aws/config and ~/.aws/credentials).
// Their values (hashed) are part of every cache key, so that two provider entries with
// different env in the kubelet config, or a test pointing the SDK at a fake, never share
// tokens. The secret access key is left out: the key ID names the identity.
var identityEnv = [...]string{
	"HOME",
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_ACCOUNT_ID",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
	"AWS_EC2_METADATA_V1_DISABLED",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL_ECR_PUBLIC", "AWS_ENDPOINT_URL_STS",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
}

// maxSharedFileBytes bounds what is read of a shared config or credentials file to key by it.
const maxSharedFileBytes = 1 << 20

// nodeIdentity returns a hash of what selects the node's AWS identity: the environment
// (identityEnv) and the contents of the shared config and credentials files the SDK would
// read (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, else under $HOME/.aws), so that a file
// rewritten for another identity is another key. It reads the environment and at most those
// two files: no SDK configuration is loaded and no credentials are resolved.
func nodeIdentity(getenv func(string) string) string {
	parts := make([]string, 0, 2*len(identityEnv)+4)
	for _, name := range identityEnv {
		parts = append(parts, name, getenv(name))
	}
	for _, f := range [...]struct{ env, name string }{
		{"AWS_CONFIG_FILE", "config"}, {"AWS_SHARED_CREDENTIALS_FILE", "credentials"},
	} {
		path := getenv(f.env)
		if path == "" && getenv("HOME") != "" {
			path = filepath.Join(getenv("HOME"), ".aws", f.name)
		}
		parts = append(parts, f.name, fileDigest(path))
	}
	return cache.HashIdentity(joinParts(parts...))
}

// fileDigest returns the hex SHA-256 of the first maxSharedFileBytes of a regular file, or
// "-" when there is no such file to read.
func fileDigest(path string) string {
	if path == "" {
		return "-"
	}
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return "-" // and a FIFO is not opened, not to block
	}
	f, err := os.Open(path)
	if err != nil {
		return "-"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, maxSharedFileBytes)); err != nil {
		return "-"
	}
	return hex.EncodeToString(h.Sum(nil))
}

// joinParts joins strings with length prefixes, so that no two lists join alike.
func joinParts(parts ...string) string {
	var b []byte
	for _, p := range parts {
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, ':')
		b = append(b, p...)
	}
	return string(b)
}
