//go:build linux

package security

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// staleArgs makes a cached token stale at once (fresh for a billionth of its life) without
// touching its expiry: the next run refreshes, and may fall back on it if the refresh fails.
const staleArgs = "--cache-fresh-fraction=0.000000001"

// TestDefaultTimeout_BeforeKubeletKill: every binary gives up (and says why) before the
// kubelet kills it, unless told otherwise with --timeout.
func TestDefaultTimeout_BeforeKubeletKill(t *testing.T) {
	if providers.DefaultTimeout >= kubeletKill {
		t.Errorf("providers.DefaultTimeout = %v, want less than the kubelet's %v kill", providers.DefaultTimeout, kubeletKill)
	}
	for _, name := range []string{ecrBin, gcrBin, dockercfgBin} {
		o := run(t, binary(t, name), proc{args: []string{"--help"}, env: newEnv(t).list()})
		if o.code != 0 || !regexp.MustCompile(`(?s)-timeout duration\s.*\(default 50s\)`).MatchString(o.stdout) {
			t.Errorf("%s --help = %d, %q; want --timeout with default 50s", name, o.code, o.stdout)
		}
	}
}

// faultRow is one cloud fault, injected into the fakes F of a subtest.
type faultRow[F any] struct {
	name   string
	args   []string // for the runs under the fault
	inject func(t *testing.T, f F)
	want   string // in the cold run's error line
}

// runFaultRows runs each row twice, each time with new fakes and a new cache: cold (the fault
// from the first call: a clear error, nothing on stdout, before the kubelet's kill) and stale (a
// healthy run first, then the fault with the entry past its fresh time: the previous token,
// with cacheDuration 0s so that the kubelet does not keep it). password extracts the token
// from an answer.
func runFaultRows[F any](t *testing.T, rows []faultRow[F], setup func(t *testing.T) (plugin, F), image string, password func(*providers.Response) string) {
	t.Helper()
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel() // each row has fakes, a cache and an environment of its own
			t.Run("cold cache: clear error before the kubelet's kill", func(t *testing.T) {
				p, f := setup(t)
				row.inject(t, f)
				o := p.run(t, request(providers.APIVersionV1, image, "", nil), row.args...)
				failure(t, p.name+" "+row.name, p.name, o, row.want)
			})
			t.Run("stale cache: previous token, not cached by the kubelet", func(t *testing.T) {
				p, f := setup(t)
				warm := answer(t, p.name+" before the fault", p.run(t, request(providers.APIVersionV1, image, "", nil)))
				row.inject(t, f)
				o := p.run(t, request(providers.APIVersionV1, image, "", nil), append(append([]string(nil), row.args...), staleArgs)...)
				got := answer(t, p.name+" "+row.name+" with a stale token", o)
				if password(got) != password(warm) || password(got) == "" {
					t.Errorf("%s: answered another password than the cached one", row.name)
				}
				if got.CacheDuration == nil || got.CacheDuration.Duration != 0 {
					t.Errorf("%s: cacheDuration = %v, want 0s (a stale token must not be cached by the kubelet)", row.name, got.CacheDuration)
				}
				if !strings.Contains(o.stderr, "serving the previous entry") {
					t.Errorf("%s: stderr = %q, want the warning about the stale entry", row.name, o.stderr)
				}
			})
		})
	}
}

const (
	ecrImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app"
	ecrHost  = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
)

// TestECRFaults is the fault matrix of ecr-credential-provider: the ECR API slow beyond the
// plugin's deadline, refusing connections, answering 5xx, throttling (within and beyond the
// deadline), answering malformed JSON, a wrongly typed document, a token that does not decode,
// no data, or access denied.
func TestECRFaults(t *testing.T) {
	inject := func(f ecrtest.Fault) func(*testing.T, *ecrtest.Server) {
		return func(_ *testing.T, srv *ecrtest.Server) { srv.Inject(ecrtest.GetAuthorizationToken, f, -1) }
	}
	rows := []faultRow[*ecrtest.Server]{
		{name: "slow beyond the plugin deadline", args: []string{"--timeout=4s"},
			inject: func(_ *testing.T, srv *ecrtest.Server) { srv.SetLatency(time.Hour) }, want: "no answer within the deadline"},
		{name: "refusing connections", inject: func(_ *testing.T, srv *ecrtest.Server) { srv.Close() }, want: "connection refused"},
		{name: "answering 5xx", inject: inject(ecrtest.ServerError), want: "StatusCode: 500"},
		{name: "throttling", args: []string{"--timeout=2s"}, inject: inject(ecrtest.Throttle), want: "ThrottlingException"},
		{name: "throttling beyond the plugin deadline", args: []string{"--timeout=4s"},
			inject: inject(ecrtest.Throttle), want: "left of the deadline cannot hold another"},
		{name: "answering malformed JSON", inject: inject(ecrtest.Malformed), want: "malformed answer: the ECR GetAuthorizationToken answer could not be decoded"},
		{name: "answering a wrongly typed document", inject: inject(ecrtest.WrongType), want: "malformed answer"},
		{name: "answering a token that does not decode", inject: inject(ecrtest.UndecodableToken), want: "authorization token is not base64"},
		{name: "answering without authorization data", inject: inject(ecrtest.NoAuthorizationData), want: "no authorization data"},
		{name: "denying access", inject: inject(ecrtest.AccessDenied), want: "AccessDeniedException"},
	}
	setup := func(t *testing.T) (plugin, *ecrtest.Server) {
		srv := ecrtest.Start(t)
		return ecrPlugin(t, &fakes{ecr: srv}), srv
	}
	runFaultRows(t, rows, setup, ecrImage, func(r *providers.Response) string { return r.Auth[ecrHost].Password })
}

// metadataFront stands between a binary and the metadata fake, to break it in ways the fake
// does not: no answer at all, a document that is not a token, a server that is not GCE's.
type metadataFront struct {
	srv  *httptest.Server
	mu   sync.Mutex
	mode string // "": pass through; "hang", "5xx", "malformed-token", "not-flavored"
}

func newMetadataFront(t *testing.T, md *gcrtest.Metadata) *metadataFront {
	target, err := url.Parse(md.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	f := &metadataFront{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		mode := f.mode
		f.mu.Unlock()
		switch {
		case mode == "hang":
			<-r.Context().Done()
		case mode == "5xx":
			w.Header().Set("Metadata-Flavor", "Google")
			http.Error(w, "injected", http.StatusServiceUnavailable)
		case mode == "malformed-token" && strings.HasSuffix(r.URL.Path, "/token"):
			w.Header().Set("Metadata-Flavor", "Google")
			io.WriteString(w, `{"access_token": "ya29.leaked-in-a-malformed-document", "expires_in": "soon"}`)
		case mode == "not-flavored":
			http.NotFound(w, r) // another cloud's 169.254.169.254
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *metadataFront) set(mode string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = mode
}

func (f *metadataFront) host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// TestGCRFaults is the fault matrix of gcr-credential-provider: the metadata server missing
// (off GCE), slow (within --metadata-timeout, and beyond the plugin's deadline), answering
// 5xx, without the scope pulls need, answering a token document that does not decode, or not
// a GCE metadata server at all.
func TestGCRFaults(t *testing.T) {
	type gcrFakes struct {
		md    *gcrtest.Metadata
		front *metadataFront
	}
	mode := func(m string) func(*testing.T, gcrFakes) {
		return func(t *testing.T, f gcrFakes) { f.front.set(m) }
	}
	rows := []faultRow[gcrFakes]{
		{name: "metadata server missing (off GCE)", inject: func(_ *testing.T, f gcrFakes) { f.front.srv.Close() }, want: "connection refused"},
		{name: "metadata server slow", args: []string{"--metadata-timeout=500ms"}, inject: mode("hang"), want: "within 500ms (--metadata-timeout): is this a GCE node?"},
		{name: "metadata server slow beyond the plugin deadline", args: []string{"--metadata-timeout=10m", "--timeout=4s"}, inject: mode("hang"), want: "no answer within the deadline"},
		{name: "metadata server answering 5xx", args: []string{"--metadata-timeout=1s"}, inject: mode("5xx"), want: "HTTP 503"},
		{name: "metadata server without the needed scope", inject: func(_ *testing.T, f gcrFakes) { f.md.SetScopes("default", gcrtest.ScopeLoggingWrite) },
			want: "missing scope https://www.googleapis.com/auth/devstorage.read_only"},
		{name: "metadata server answering a token that does not decode", inject: mode("malformed-token"), want: "malformed token document"},
		{name: "not a GCE metadata server", inject: mode("not-flavored"), want: "not a GCE metadata server"},
	}
	setup := func(t *testing.T) (plugin, gcrFakes) {
		md := gcrtest.NewMetadata()
		t.Cleanup(md.Close)
		front := newMetadataFront(t, md)
		p := gcrPlugin(t, nil)
		p.env = p.env.with("GCE_METADATA_HOST=" + front.host())
		return p, gcrFakes{md: md, front: front}
	}
	runFaultRows(t, rows, setup, "us-docker.pkg.dev/p/r/app", func(r *providers.Response) string { return r.Auth["*.pkg.dev"].Password })
}

// TestGCROffGCE_NoMetadataHost_ClearError: with GCE_METADATA_HOST pointing nowhere (a closed
// loopback port stands in for 169.254.169.254 off GCE), the binary says it is probably not on
// GCE, within --metadata-timeout.
func TestGCROffGCE_NoMetadataHost_ClearError(t *testing.T) {
	p := gcrPlugin(t, nil)
	o := p.run(t, request(providers.APIVersionV1, "gcr.io/p/app", "", nil))
	failure(t, fmt.Sprintf("%s off GCE", gcrBin), gcrBin, o, "metadata server unreachable")
	if !strings.Contains(o.stderr, "is this a GCE node?") {
		t.Errorf("stderr = %q, want it to ask whether this is a GCE node", o.stderr)
	}
}
