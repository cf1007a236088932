package gcr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/metadata"

	"github.com/pullkeys/pullkeys/cache"
)

// MetadataHostEnv is the environment variable that points the metadata client at another
// server (host:port), as cloud.google.com/go/compute/metadata reads it.
const MetadataHostEnv = "GCE_METADATA_HOST"

// metadataIP is the metadata server's address when MetadataHostEnv is unset.
const metadataIP = "169.254.169.254"

// Scopes that let a node's access token pull images. Container Registry stores layers in
// Cloud Storage; Artifact Registry accepts the same scopes.
const (
	ScopeCloudPlatform         = "https://www.googleapis.com/auth/cloud-platform"
	ScopeDevstorageReadOnly    = "https://www.googleapis.com/auth/devstorage.read_only"
	ScopeDevstorageReadWrite   = "https://www.googleapis.com/auth/devstorage.read_write"
	ScopeDevstorageFullControl = "https://www.googleapis.com/auth/devstorage.full_control"
)

// scopeNames lists pullScopes for messages.
const scopeNames = "devstorage.read_only (or devstorage.read_write, devstorage.full_control, cloud-platform)"

// The instance attributes of the docker config flows, and the metadata server's header.
const (
	attributeDockercfg          = "google-dockercfg"
	attributeDockercfgURL       = "google-dockercfg-url"
	metadataFlavor, flavorValue = "Metadata-Flavor", "Google"
)

var pullScopes = []string{ScopeDevstorageReadOnly, ScopeDevstorageReadWrite, ScopeDevstorageFullControl, ScopeCloudPlatform}

// metadataHost returns where metadata calls go.
func metadataHost() string {
	if h := os.Getenv(MetadataHostEnv); h != "" {
		return h
	}
	return metadataIP
}

// isMetadataHost reports whether host (host[:port] of a URL) is the metadata server, by the
// address in use or by its well-known names.
func isMetadataHost(host string) bool {
	switch host {
	case metadataHost(), metadataIP, "metadata.google.internal", "metadata":
		return true
	}
	return false
}

// newMetadataClient returns a metadata client with explicit short timeouts, that never goes
// through a proxy and that refuses answers without "Metadata-Flavor: Google" (on another cloud
// 169.254.169.254 is that cloud's server, whose 404s would otherwise read as "not defined").
// The library's own logger stays off: at debug level it would log token responses.
func (p *Provider) newMetadataClient() *metadata.Client {
	dial := p.opts.MetadataTimeout
	if dial > time.Second {
		dial = time.Second
	}
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: dial}).DialContext,
		ResponseHeaderTimeout: p.opts.MetadataTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
	}
	return metadata.NewWithOptions(&metadata.Options{
		Client: &http.Client{Transport: flavorCheck{tr}, Timeout: p.opts.MetadataTimeout},
	})
}

// errNotFlavored is the answer of a server that is not a GCE metadata server.
var errNotFlavored = errors.New(`the answer lacks "Metadata-Flavor: Google", so this is not a GCE metadata server`)

type flavorCheck struct{ next http.RoundTripper }

func (f flavorCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	last, _ := req.Context().Value(lastKey{}).(*lastAttempt)
	resp, err := f.next.RoundTrip(req)
	if err != nil {
		if req.Context().Err() == nil { // not our own deadline: worth reporting
			last.set(causeOf(err))
		}
		return nil, err
	}
	if resp.Header.Get(metadataFlavor) != flavorValue {
		resp.Body.Close()
		last.set(errNotFlavored.Error())
		return nil, errNotFlavored
	}
	last.set(fmt.Sprintf("HTTP %d", resp.StatusCode))
	return resp, nil
}

// lastAttempt records how the latest attempt of a metadata call ended, so that a call that
// runs out of time while the library retries can say what it was retrying.
type lastAttempt struct {
	mu  sync.Mutex
	msg string
}

type lastKey struct{}

func (l *lastAttempt) set(msg string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msg = msg
}

func (l *lastAttempt) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msg
}

// metadataGet reads suffix (relative to /computeMetadata/v1/) under a deadline of
// MetadataTimeout, within which the library retries 5xx answers and transient errors. Errors
// name the server and the path, never the body of an answer.
func (p *Provider) metadataGet(ctx context.Context, suffix string) (string, error) {
	host := metadataHost()
	last := new(lastAttempt)
	cctx, cancel := context.WithTimeout(context.WithValue(ctx, lastKey{}, last), p.opts.MetadataTimeout)
	defer cancel()
	v, err := p.metadata().GetWithContext(cctx, suffix)
	if err == nil {
		return v, nil
	}
	var nd metadata.NotDefinedError
	var me *metadata.Error
	switch {
	case errors.As(err, &nd):
		return "", fmt.Errorf("%s: %w", suffix, ErrNotDefined)
	case errors.As(err, &me):
		return "", fmt.Errorf("%w: the metadata server at %s answered %s with HTTP %d", ErrMetadata, host, suffix, me.Code)
	case ctx.Err() != nil:
		return "", fmt.Errorf("read %s from the metadata server at %s: %w", suffix, host, ctx.Err())
	case errors.Is(err, errNotFlavored):
		return "", fmt.Errorf("%w at %s: %v: is this a GCE node?", ErrMetadataUnreachable, host, errNotFlavored)
	case cctx.Err() != nil:
		msg := "no answer"
		if l := last.get(); l != "" {
			msg = "no usable answer (last attempt: " + l + ")"
		}
		return "", fmt.Errorf("%w at %s: %s for %s within %s (--metadata-timeout): is this a GCE node?", ErrMetadataUnreachable, host, msg, suffix, p.opts.MetadataTimeout)
	}
	return "", fmt.Errorf("%w at %s: %s: is this a GCE node?", ErrMetadataUnreachable, host, causeOf(err))
}

// causeOf returns the innermost useful text of a transport error (the URL of a *url.Error is
// dropped: the caller names the server).
func causeOf(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error()
	}
	if u := errors.Unwrap(err); u != nil {
		return u.Error()
	}
	return err.Error()
}

// nodeToken returns the node service account's access token, through the shared cache: one
// fetch (scopes and token, read together) per half-life per node.
func (p *Provider) nodeToken(ctx context.Context) (*cache.Result, error) {
	key := cache.NewKey("gcr", "v1", "node-token", metadataHost(), p.opts.ServiceAccount)
	return p.cache.GetOrFetchOwnError(ctx, key, p.fetchNodeToken)
}

// fetchNodeToken reads the account's scopes and its token at the same time, one round trip
// to the metadata server instead of two: the token is used only once the scopes are known to
// allow pulls, and dropped otherwise.
func (p *Provider) fetchNodeToken(ctx context.Context) (*cache.Entry, error) {
	base := "instance/service-accounts/" + p.opts.ServiceAccount + "/"
	type answer struct {
		raw string
		err error
	}
	tokenCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	token := make(chan answer, 1)
	go func() {
		raw, err := p.metadataGet(tokenCtx, base+"token")
		token <- answer{raw, err}
	}()
	raw, err := p.metadataGet(ctx, base+"scopes")
	if errors.Is(err, ErrNotDefined) {
		return nil, fmt.Errorf("service account %q is not attached to this instance: %w", p.opts.ServiceAccount, err)
	}
	if err != nil {
		return nil, fmt.Errorf("check the scopes of service account %q: %w", p.opts.ServiceAccount, err)
	}
	if err := checkScopes(p.opts.ServiceAccount, raw); err != nil {
		return nil, err
	}
	t0 := <-token
	raw, err = t0.raw, t0.err
	if err != nil {
		return nil, fmt.Errorf("get an access token for service account %q: %w", p.opts.ServiceAccount, err)
	}
	now := p.opts.Now()
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	switch {
	case json.Unmarshal([]byte(raw), &t) != nil:
		return nil, fmt.Errorf("get an access token for service account %q: %w: malformed token document", p.opts.ServiceAccount, ErrMetadata)
	case t.AccessToken == "":
		return nil, fmt.Errorf("get an access token for service account %q: %w: no access_token", p.opts.ServiceAccount, ErrMetadata)
	case t.ExpiresIn <= 0:
		return nil, fmt.Errorf("get an access token for service account %q: %w: expires_in %d", p.opts.ServiceAccount, ErrMetadata, t.ExpiresIn)
	case t.TokenType != "" && !strings.EqualFold(t.TokenType, "Bearer"):
		return nil, fmt.Errorf("get an access token for service account %q: %w: token_type %q, want Bearer", p.opts.ServiceAccount, ErrMetadata, oneWord(t.TokenType))
	}
	return tokenEntry(t.AccessToken, now, now.Add(time.Duration(t.ExpiresIn)*time.Second)), nil
}

// checkScopes fails with ErrMissingScope unless raw (the newline-separated scopes of the
// account) holds a scope that can pull images.
func checkScopes(account, raw string) error {
	have := strings.Fields(raw)
	for _, s := range have {
		if slices.Contains(pullScopes, s) {
			return nil
		}
	}
	if len(have) > 8 {
		have = append(have[:8:8], "…")
	}
	has := "has no scopes"
	if len(have) > 0 {
		has = "has the scopes [" + strings.Join(have, " ") + "], none of which can pull images"
	}
	return fmt.Errorf("%w %s: service account %q of this instance %s; "+
		"it needs %s: set the scope on the instance or node pool (it can only be changed while the instance is stopped)",
		ErrMissingScope, ScopeDevstorageReadOnly, account, has, scopeNames)
}

// oneWord keeps an untrusted value short and on one line for an error message.
func oneWord(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}
