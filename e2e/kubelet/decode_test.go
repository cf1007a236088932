package kubelet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	pkkubelet "github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

const (
	v1       = "credentialprovider.kubelet.k8s.io/v1"
	v1beta1  = "credentialprovider.kubelet.k8s.io/v1beta1"
	v1alpha1 = "credentialprovider.kubelet.k8s.io/v1alpha1"

	// rawSecret is the password of the raw answers: it must never appear in a report.
	rawSecret = "raw-secret-b6f1"
)

// kubeletRejected is the kubelet's log line when it gets no answer from a plugin (exec
// failure or rejected answer): the only outward sign of a rejection besides missing
// credentials.
const kubeletRejected = "Failed to provide credentials for image"

// rawCase is an answer written verbatim on the plugin's stdout. {host} is replaced by the
// scenario's registry host, which is also the host of the image pulled.
type rawCase struct {
	name       string
	apiVersion string // the provider's configured apiVersion; "" is v1
	stdout     string
	accept     bool // the kubelet accepts the answer
	// disagree, when set, documents a known disagreement of pullkeys (providers.DecodeResponse
	// and kubelet.Check) with the kubelet on this answer. The test fails when it goes away, so
	// that the note is removed with the fix.
	disagree string
}

const goodAuth = `"auth":{"{host}":{"username":"u","password":"` + rawSecret + `"}}`

func rawCases() []rawCase {
	head := func(v string) string {
		return `{"apiVersion":"` + v + `","kind":"CredentialProviderResponse",`
	}
	ok := head(v1) + `"cacheKeyType":"Image",` + goodAuth + `}`
	return []rawCase{
		{name: "minimal", stdout: ok, accept: true},
		{name: "v1beta1", apiVersion: v1beta1, stdout: head(v1beta1) + `"cacheKeyType":"Registry",` + goodAuth + `}`, accept: true},
		{name: "v1alpha1", apiVersion: v1alpha1, stdout: head(v1alpha1) + `"cacheKeyType":"Global",` + goodAuth + `}`, accept: true},
		{name: "trailing newline", stdout: ok + "\n", accept: true},
		{name: "leading white space", stdout: "\n\t  " + ok, accept: true},
		{name: "pretty printed", stdout: strings.ReplaceAll(ok, ",", ",\n  "), accept: true},
		{name: "cacheDuration", stdout: head(v1) + `"cacheKeyType":"Image","cacheDuration":"6h0m0s",` + goodAuth + `}`, accept: true},
		{name: "cacheDuration 0s", stdout: head(v1) + `"cacheKeyType":"Image","cacheDuration":"0s",` + goodAuth + `}`, accept: true},
		{name: "cacheDuration without unit", stdout: head(v1) + `"cacheKeyType":"Image","cacheDuration":"60",` + goodAuth + `}`, accept: false},
		{name: "cacheDuration as a number", stdout: head(v1) + `"cacheKeyType":"Image","cacheDuration":3600,` + goodAuth + `}`, accept: false},
		{name: "cacheDuration overflows", stdout: head(v1) + `"cacheKeyType":"Image","cacheDuration":"9999999999h",` + goodAuth + `}`, accept: false},
		// The kubelet uses the credentials and caches nothing: the entry is born expired.
		{name: "negative cacheDuration", stdout: head(v1) + `"cacheKeyType":"Image","cacheDuration":"-1h",` + goodAuth + `}`, accept: true},
		{name: "no auth", stdout: head(v1) + `"cacheKeyType":"Image"}`, accept: true},
		{name: "auth null", stdout: head(v1) + `"cacheKeyType":"Image","auth":null}`, accept: true},
		{name: "empty auth", stdout: head(v1) + `"cacheKeyType":"Image","auth":{}}`, accept: true},
		{name: "auth entry null", stdout: head(v1) + `"cacheKeyType":"Image","auth":{"{host}":null}}`, accept: true},
		{name: "auth entry without password", stdout: head(v1) + `"cacheKeyType":"Image","auth":{"{host}":{"username":"u"}}}`, accept: true},
		{name: "auth key does not parse", stdout: head(v1) + `"cacheKeyType":"Image","auth":{"%zz":{"username":"u","password":"p"},"{host}":{"username":"u","password":"` + rawSecret + `"}}}`, accept: true},
		{name: "escaped field name", stdout: head(v1) + `"cache\u004beyType":"Image",` + goodAuth + `}`, accept: true},
		{name: "fields in any order", stdout: `{` + goodAuth + `,"cacheKeyType":"Image","kind":"CredentialProviderResponse","apiVersion":"` + v1 + `"}`, accept: true},
		{name: "missing cacheKeyType", stdout: head(v1) + goodAuth + `}`, accept: false},
		{name: "lower-case cacheKeyType", stdout: head(v1) + `"cacheKeyType":"image",` + goodAuth + `}`, accept: false},
		{name: "unknown cacheKeyType", stdout: head(v1) + `"cacheKeyType":"Repository",` + goodAuth + `}`, accept: false},
		{name: "unknown field", stdout: head(v1) + `"cacheKeyType":"Image","expiresAt":"2030-01-01T00:00:00Z",` + goodAuth + `}`, accept: false},
		{name: "unknown field in an auth entry", stdout: head(v1) + `"cacheKeyType":"Image","auth":{"{host}":{"username":"u","password":"p","auth":"dTpw"}}}`, accept: false},
		{name: "field in the wrong case", stdout: head(v1) + `"CacheKeyType":"Image",` + goodAuth + `}`, accept: false},
		{name: "duplicate field", stdout: head(v1) + `"cacheKeyType":"Image","cacheKeyType":"Image",` + goodAuth + `}`, accept: false},
		{name: "duplicate auth key", stdout: head(v1) + `"cacheKeyType":"Image","auth":{"{host}":{"username":"u","password":"p"},"{host}":{"username":"u","password":"p"}}}`, accept: false},
		{name: "username not a string", stdout: head(v1) + `"cacheKeyType":"Image","auth":{"{host}":{"username":1,"password":"p"}}}`, accept: false},
		{name: "apiVersion of another version", stdout: head(v1beta1) + `"cacheKeyType":"Image",` + goodAuth + `}`, accept: false},
		{name: "apiVersion of another group", stdout: `{"apiVersion":"example.io/v1","kind":"CredentialProviderResponse","cacheKeyType":"Image",` + goodAuth + `}`, accept: false},
		{name: "no apiVersion", stdout: `{"kind":"CredentialProviderResponse","cacheKeyType":"Image",` + goodAuth + `}`, accept: false},
		{name: "kind of the request", stdout: `{"apiVersion":"` + v1 + `","kind":"CredentialProviderRequest","image":"x"}`, accept: false},
		{name: "no kind", stdout: `{"apiVersion":"` + v1 + `","cacheKeyType":"Image",` + goodAuth + `}`, accept: false},
		{name: "two documents", stdout: ok + "\n" + ok + "\n", accept: false},
		{name: "trailing garbage", stdout: ok + " done", accept: false},
		{name: "log line before the answer", stdout: "level=INFO msg=hello\n" + ok, accept: false},
		{name: "byte order mark", stdout: "\ufeff" + ok, accept: false},
		{name: "YAML", stdout: "apiVersion: " + v1 + "\nkind: CredentialProviderResponse\ncacheKeyType: Image\n", accept: false},
		{name: "empty", stdout: "", accept: false},
		{name: "null", stdout: "null", accept: false},
		{name: "array", stdout: "[" + ok + "]", accept: false},
	}
}

// TestResponseDecoding writes each answer verbatim on a plugin's stdout and asks the kubelet's
// code whether it accepts it, then asks pullkeys (providers.DecodeResponse and kubelet.Check):
// they must agree, and on an accepted answer give the same credentials.
func TestResponseDecoding(t *testing.T) {
	for _, tc := range rawCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t)
			host := "reg." + s.domain
			stdout := strings.ReplaceAll(tc.stdout, "{host}", host)
			kubelet := s.kubeletOnRaw(stdout, tc.apiVersion)
			if kubelet.accepted != tc.accept {
				t.Fatalf("the kubelet accepted the answer: %v, want %v (log: %s)", kubelet.accepted, tc.accept, kubelet.log)
			}
			ours := pullkeysOnRaw(t, s, stdout, tc.apiVersion)
			compareRaw(t, tc, kubelet, ours)
		})
	}
}

type rawVerdict struct {
	accepted bool
	creds    []cred
	log      string
}

// kubeletOnRaw registers a provider whose plugin prints stdout, pulls reg.<domain>/app
// through the kubelet's code and reports whether the kubelet accepted the answer.
func (s *scenario) kubeletOnRaw(stdout, apiVersion string) rawVerdict {
	s.t.Helper()
	file := filepath.Join(filepath.Dir(s.configPath), "stdout")
	if err := os.WriteFile(file, []byte(stdout), 0o600); err != nil {
		s.t.Fatal(err)
	}
	p := s.fake("FAKE_RESPONSE_FILE", file)
	if apiVersion != "" {
		p.APIVersion = apiVersion
	}
	s.register(nil, p)
	mark := kubeletLog.Len()
	creds := lookup(s.t, s.image("reg", "app"), pod{})
	logged := kubeletLog.Since(mark)
	if n := len(s.execs()); n != 1 {
		s.t.Fatalf("the kubelet exec'd the plugin %d times, want 1", n)
	}
	return rawVerdict{accepted: !strings.Contains(logged, kubeletRejected), creds: creds, log: logged}
}

// pullkeysOnRaw is the verdict of providers.DecodeResponse and of kubelet.Check on stdout.
func pullkeysOnRaw(t *testing.T, s *scenario, stdout, apiVersion string) rawVerdict {
	t.Helper()
	if apiVersion == "" {
		apiVersion = v1
	}
	image := s.image("reg", "app")
	var v rawVerdict
	resp, err := providers.DecodeResponse([]byte(stdout), apiVersion)
	v.accepted = err == nil
	v.creds = []cred{}
	if err == nil {
		var kr keyring.Keyring
		for k, a := range resp.Auth {
			_ = kr.Add(k, keyring.Credential{Username: a.Username, Password: a.Password})
		}
		for _, c := range kr.Lookup(image) {
			v.creds = append(v.creds, cred{c.Username, c.Password})
		}
	} else {
		v.log = err.Error()
		if strings.Contains(err.Error(), rawSecret) {
			t.Errorf("DecodeResponse error quotes the answer's password: %v", err)
		}
	}

	// kubelet.Check, with secrets masked: its report must not hold the password either.
	rep, cerr := pkkubelet.Check(t.Context(), pkkubelet.CheckOptions{ConfigPath: s.configPath, BinDir: s.binDir, Images: []string{image}})
	if cerr != nil {
		t.Fatal(cerr)
	}
	pr := rep.Images[0].Providers[0]
	checkAccepted := pr.Answer != nil
	if checkAccepted != v.accepted {
		t.Errorf("kubelet.Check accepted the answer: %v (error %q), providers.DecodeResponse: %v", checkAccepted, pr.Error, v.accepted)
	}
	if text := reportText(t, rep); strings.Contains(text, rawSecret) {
		t.Errorf("kubelet.Check's report holds the answer's password:\n%s", text)
	}
	return v
}

func compareRaw(t *testing.T, tc rawCase, kubelet, ours rawVerdict) {
	t.Helper()
	agree := kubelet.accepted == ours.accepted
	if agree && kubelet.accepted {
		if diff := cmp.Diff(kubelet.creds, ours.creds); diff != "" {
			t.Errorf("credentials differ (-kubelet +pullkeys):\n%s", diff)
		}
	}
	switch {
	case tc.disagree != "" && agree:
		t.Errorf("pullkeys now agrees with the kubelet (accepted: %v): remove the disagreement note %q", ours.accepted, tc.disagree)
	case tc.disagree != "":
		t.Logf("known disagreement: %s (pullkeys: %s)", tc.disagree, ours.log)
	case !agree:
		t.Errorf("the kubelet accepted the answer: %v, pullkeys: %v (pullkeys says: %s)", kubelet.accepted, ours.accepted, ours.log)
	}
}

func reportText(t *testing.T, rep *pkkubelet.Report) string {
	t.Helper()
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// FuzzResponseDecoding is TestResponseDecoding on any stdout: the kubelet's code and
// providers.DecodeResponse must agree on accepting it, and on the credentials. Each input
// execs a plugin, so expect tens of inputs a second.
func FuzzResponseDecoding(f *testing.F) {
	for _, tc := range rawCases() {
		if tc.apiVersion == "" {
			f.Add(tc.stdout)
		}
	}
	f.Fuzz(func(t *testing.T, stdout string) {
		s := newScenario(t)
		stdout = strings.ReplaceAll(stdout, "{host}", "reg."+s.domain)
		kubelet := s.kubeletOnRaw(stdout, "")
		image := s.image("reg", "app")
		ours := rawVerdict{creds: []cred{}}
		resp, err := providers.DecodeResponse([]byte(stdout), v1)
		if err == nil {
			ours.accepted = true
			var kr keyring.Keyring
			for k, a := range resp.Auth {
				_ = kr.Add(k, keyring.Credential{Username: a.Username, Password: a.Password})
			}
			for _, c := range kr.Lookup(image) {
				ours.creds = append(ours.creds, cred{c.Username, c.Password})
			}
		} else {
			ours.log = err.Error()
		}
		if kubelet.accepted != ours.accepted {
			t.Fatalf("on stdout %q the kubelet accepted the answer: %v, providers.DecodeResponse: %v (%s)", stdout, kubelet.accepted, ours.accepted, ours.log)
		}
		if kubelet.accepted && len(resp.Auth) <= 1 {
			// With several keys normalising alike the kubelet's order is random (map range).
			if diff := cmp.Diff(kubelet.creds, ours.creds); diff != "" {
				t.Errorf("on stdout %q credentials differ (-kubelet +pullkeys):\n%s", stdout, diff)
			}
		}
	})
}
