package kubelet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	corev1 "k8s.io/api/core/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/kubernetes/pkg/credentialprovider"
	kubeletplugin "k8s.io/kubernetes/pkg/credentialprovider/plugin"
	credentialprovidersecrets "k8s.io/kubernetes/pkg/credentialprovider/secrets"
	"k8s.io/kubernetes/pkg/util/parsers"

	"github.com/pullkeys/pullkeys/pullsecret"
)

// kubeletPullImageSHA256 is the SHA-256 of kubeGenericRuntimeManager.PullImage in
// k8s.io/kubernetes v1.36.3 (pkg/kubelet/kuberuntime/kuberuntime_image.go), printed by
// go/printer: the function criRuntime.PullImage reproduces. When k8s.io/kubernetes is bumped
// and the function changes, TestCRIPullLoopIsTheKubelets fails: compare criRuntime.PullImage
// with the new function, then update this hash.
const kubeletPullImageSHA256 = "03df3a4beb4b3754078630bc285581e4ef33de3d6182f2830cdad724f8bcb543"

// TestCRIPullLoopIsTheKubelets pins criRuntime.PullImage (the kubelet's try-each-credential
// loop, reproduced because pkg/kubelet/kuberuntime cannot be built here) to the kubelet:
// its source is the one reproduced (hash, and the six AuthConfig fields copied from each
// credential), and, fed the credentials the kubelet's own keyring code returns for a pod with
// a pull Secret and a provider, it hands the runtime one AuthConfig per credential in that
// order, stops at the first success, and aggregates the errors when all fail.
func TestCRIPullLoopIsTheKubelets(t *testing.T) {
	t.Run("source", func(t *testing.T) {
		fn := kubeletPullImageSource(t)
		var b bytes.Buffer
		if err := printer.Fprint(&b, token.NewFileSet(), fn); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b.Bytes())
		if got := hex.EncodeToString(sum[:]); got != kubeletPullImageSHA256 {
			t.Errorf("kubeGenericRuntimeManager.PullImage has SHA-256 %s, the reproduced one %s: the kubelet's loop changed; compare criRuntime.PullImage with it:\n%s", got, kubeletPullImageSHA256, b.String())
		}
		var fields []string
		ast.Inspect(fn, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if sel, ok := lit.Type.(*ast.SelectorExpr); !ok || sel.Sel.Name != "AuthConfig" {
				return true
			}
			for _, e := range lit.Elts {
				kv := e.(*ast.KeyValueExpr)
				key := kv.Key.(*ast.Ident).Name
				val, ok := kv.Value.(*ast.SelectorExpr)
				if !ok || val.Sel.Name != key {
					t.Errorf("the kubelet sets AuthConfig.%s from %T, not the credential's %s", key, kv.Value, key)
				}
				fields = append(fields, key)
			}
			return false
		})
		want := []string{"Username", "Password", "Auth", "ServerAddress", "IdentityToken", "RegistryToken"}
		if diff := cmp.Diff(want, fields); diff != "" {
			t.Errorf("AuthConfig fields the kubelet copies (-reproduced +kubelet):\n%s", diff)
		}
	})

	// The same inputs through the kubelet's code: a pod's Secret with two matching keys and a
	// provider's answer, merged by credentialprovider/secrets and the plugin keyring.
	s := newScenario(t)
	host := "reg." + s.domain
	p := s.fake("FAKE_AUTH", `{"{registry}":{"username":"provider","password":"pw-provider"}}`)
	s.register(nil, p)
	data, err := pullsecret.Create("regcred", "default", []pullsecret.Auth{
		{Server: host, Username: "secret-host", Password: "pw-secret-host"},
		{Server: host + "/team", Username: "secret-team", Password: "pw-secret-team"},
	}, "json")
	if err != nil {
		t.Fatal(err)
	}
	var secret corev1.Secret
	if err := json.Unmarshal(data, &secret); err != nil {
		t.Fatal(err)
	}
	image := host + "/team/app:v1"
	repo, _, _, err := parsers.ParseImageName(image)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := credentialprovidersecrets.MakeDockerKeyring([]corev1.Secret{secret},
		credentialprovider.UnionDockerKeyring{&credentialprovider.BasicDockerKeyring{}, kubeletplugin.NewExternalCredentialProviderDockerKeyring("default", "app", "uid-pin", "")})
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := kr.Lookup(repo)
	if len(creds) != 3 {
		t.Fatalf("the kubelet's keyring returned %d credentials for %s, want 3 (two Secret keys, one provider)", len(creds), repo)
	}
	var wantAuths []*runtimeapi.AuthConfig
	for _, c := range creds {
		wantAuths = append(wantAuths, authConfigOf(c))
	}
	if got := []string{wantAuths[0].Username, wantAuths[1].Username, wantAuths[2].Username}; !cmp.Equal(got, []string{"secret-team", "secret-host", "provider"}) {
		t.Errorf("the kubelet's keyring order = %v, want the Secret's keys (most specific first), then the provider", got)
	}

	tests := []struct {
		name      string
		failFirst int
		wantCalls int
		wantErr   bool
	}{
		{name: "first credential pulls", failFirst: 0, wantCalls: 1},
		{name: "third credential pulls", failFirst: 2, wantCalls: 3},
		{name: "all refused: errors aggregated", failFirst: 3, wantCalls: 3, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeImageService{failFirst: tt.failFirst}
			k := ensureImage(t, fake, image, pod{Name: "app", Namespace: "default"}, []corev1.Secret{secret})
			if diff := cmp.Diff(wantAuths[:tt.wantCalls], k.Auths, protocmp.Transform()); diff != "" {
				t.Errorf("AuthConfigs handed to the runtime (-kubelet keyring +handed):\n%s", diff)
			}
			if diff := cmp.Diff(k.Auths, fake.auths(), protocmp.Transform()); diff != "" {
				t.Errorf("AuthConfigs the CRI received (-handed +received):\n%s", diff)
			}
			if !tt.wantErr {
				if k.Err != nil {
					t.Fatalf("EnsureImageExists = %v (%s), want success", k.Err, k.Message)
				}
				return
			}
			var errs []error
			for i := 1; i <= tt.wantCalls; i++ {
				errs = append(errs, fakePullError(i))
			}
			if want := utilerrors.NewAggregate(errs).Error(); k.Message != want {
				t.Errorf("EnsureImageExists message = %q, want the aggregate %q", k.Message, want)
			}
		})
	}
}

// kubeletPullImageSource parses kubeGenericRuntimeManager.PullImage from the module cache.
func kubeletPullImageSource(t *testing.T) *ast.FuncDecl {
	t.Helper()
	out, err := exec.Command(goTool(), "list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes").Output()
	if err != nil {
		t.Fatalf("go list -m k8s.io/kubernetes: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "pkg", "kubelet", "kuberuntime", "kuberuntime_image.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "PullImage" || fn.Recv == nil {
			continue
		}
		if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); ok {
			if id, ok := star.X.(*ast.Ident); ok && id.Name == "kubeGenericRuntimeManager" {
				fn.Doc = nil
				return fn
			}
		}
	}
	t.Fatalf("%s: no kubeGenericRuntimeManager.PullImage", path)
	return nil
}

func fakePullError(n int) error { return fmt.Errorf("fake runtime: pull %d refused", n) }

// fakeImageService is a CRI image service that refuses the first failFirst pulls.
type fakeImageService struct {
	internalapi.ImageManagerService // only the methods below are called
	failFirst                       int

	mu    sync.Mutex
	calls []*runtimeapi.AuthConfig
}

func (f *fakeImageService) PullImage(_ context.Context, _ *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, auth)
	if n := len(f.calls); n <= f.failFirst {
		return "", fakePullError(n)
	}
	return "sha256:fake", nil
}

func (f *fakeImageService) ImageStatus(context.Context, *runtimeapi.ImageSpec, bool) (*runtimeapi.ImageStatusResponse, error) {
	return &runtimeapi.ImageStatusResponse{Image: &runtimeapi.Image{Id: "sha256:fake", Size: 1}}, nil
}

func (f *fakeImageService) auths() []*runtimeapi.AuthConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*runtimeapi.AuthConfig(nil), f.calls...)
}
