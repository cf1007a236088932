package pullsecret

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/dockercfg"
	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/internal/plugintest"
	"github.com/pullkeys/pullkeys/providers"
)

// The test binary doubles as the credential provider plugins under test: linked as
// "fakeplugin-<mode>" (plugintest.Binary), it behaves as fakePlugin's mode says instead of
// running the tests.
func TestMain(m *testing.M) { plugintest.Main(m, fakePlugin) }

// fakePlugin is a credential provider whose behaviour is chosen by mode:
//
//	answer         answer with the --auth KEY=USER:PASSWORD entries, through providers.Execute
//	               (so in the request's apiVersion); with $FAKE_DUMP set, first copy the request,
//	               the args and $FAKE_VAR to that file
//	dockercfg      the real dockercfg-credential-provider
//	ecr            the real ecr-credential-provider (point it at ecrtest with its Setenv)
//	fail           print a diagnostic holding $FAKE_SECRET on stderr, exit 3
//	garbage        print text, not JSON, on stdout and exit 0
//	wrong-version  answer in v1beta1 whatever the request
func fakePlugin(mode string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx := context.Background()
	switch mode {
	case "answer":
		req, _ := io.ReadAll(stdin)
		if dump := os.Getenv("FAKE_DUMP"); dump != "" {
			text := fmt.Sprintf("%s\nargs=%q\nFAKE_VAR=%s\n", req, args, os.Getenv("FAKE_VAR"))
			if err := os.WriteFile(dump, []byte(text), 0o600); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
		}
		auth := plugintest.AuthFlag{}
		p := providers.Plugin{
			Name:  "fakeplugin-answer",
			Flags: func(fs *flag.FlagSet) { fs.Var(auth, "auth", "KEY=USER:PASSWORD") },
			New: func(context.Context, *slog.Logger) (providers.Provider, error) {
				return providers.ProviderFunc(func(context.Context, *providers.Request) (*providers.Response, error) {
					return &providers.Response{CacheKeyType: providers.CacheKeyRegistry, CacheDuration: providers.CacheFor(0), Auth: auth}, nil
				}), nil
			},
		}
		return providers.Execute(ctx, p, args, bytes.NewReader(req), stdout, stderr)
	case "dockercfg":
		return providers.Execute(ctx, dockercfg.Plugin(), args, stdin, stdout, stderr)
	case "ecr":
		return providers.Execute(ctx, ecr.Plugin(), args, stdin, stdout, stderr)
	case "fail":
		_, _ = io.Copy(io.Discard, stdin)
		fmt.Fprintf(stderr, "fail: cannot reach the registry API with token %s\n", os.Getenv("FAKE_SECRET"))
		return 3
	case "garbage":
		_, _ = io.Copy(io.Discard, stdin)
		fmt.Fprintln(stdout, "hello from the plugin")
		return 0
	case "wrong-version":
		_, _ = io.Copy(io.Discard, stdin)
		fmt.Fprintln(stdout, `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","kind":"CredentialProviderResponse","cacheKeyType":"Image","auth":{"registry.example.io":{"username":"u","password":"wrong-version-pass"}}}`)
		return 0
	}
	fmt.Fprintf(stderr, "unknown fake plugin mode %q\n", mode)
	return 2
}

// run runs Command and returns its exit status, stdout and stderr.
func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Command(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeFile writes content to name in a fresh temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
