package kubelet

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/internal/plugintest"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
	"github.com/pullkeys/pullkeys/providers/mirror"
)

// The test binary doubles as the plugins under test: linked into a bin dir as
// "fakeplugin-<mode>" (plugintest.BinDir), it behaves as fakePlugin's mode says instead of
// running the tests.
func TestMain(m *testing.M) { plugintest.Main(m, fakePlugin) }

// fakePlugin is a credential provider whose behaviour is chosen by mode:
//
//	ok              answer with the --auth entries and $FAKE_AUTH (same form; default
//	                "docker.io=user:password") through
//	                providers.Execute, in the request's apiVersion
//	echo-token      ok, with the request's service account token as the password
//	leak-forms      ok, and print each password, user:password and their base64 forms on stderr
//	env             ok, and print args, $FAKE_VAR and $FAKE_PARENT on stderr
//	dump            ok, and copy the request to the file named by $FAKE_DUMP
//	garbage         print text, not JSON, and exit 0
//	log-then-json   print a log line, then a valid answer, on stdout
//	two-docs        print two answers
//	wrong-version   answer in v1beta1 whatever the request
//	unknown-field   answer with an extra field
//	bad-key-type    answer with cacheKeyType "Pod"
//	fail            print a diagnostic and the secret of $FAKE_SECRET on stderr, exit 3
//	hang            never answer
//	child           answer, leaving a child process that holds stdout
//	sleep           (the child) sleep a few seconds
func fakePlugin(mode string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch mode {
	case "garbage":
		_, _ = io.Copy(io.Discard, stdin)
		fmt.Fprintln(stdout, "hello from the plugin")
		return 0
	case "log-then-json":
		_, _ = io.Copy(io.Discard, stdin)
		fmt.Fprintln(stdout, "time=now level=INFO msg=starting")
		fmt.Fprintln(stdout, `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","cacheKeyType":"Image","auth":{}}`)
		return 0
	case "two-docs":
		_, _ = io.Copy(io.Discard, stdin)
		for range 2 {
			fmt.Fprintln(stdout, `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","cacheKeyType":"Image","auth":{}}`)
		}
		return 0
	case "wrong-version":
		_, _ = io.Copy(io.Discard, stdin)
		fmt.Fprintln(stdout, `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","kind":"CredentialProviderResponse","cacheKeyType":"Image","auth":{"docker.io":{"username":"u","password":"p"}}}`)
		return 0
	case "unknown-field":
		_, _ = io.Copy(io.Discard, stdin)
		fmt.Fprintln(stdout, `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","cacheKeyType":"Image","expiresAt":"soon","auth":{"docker.io":{"username":"u","password":"p"}}}`)
		return 0
	case "bad-key-type":
		_, _ = io.Copy(io.Discard, stdin)
		fmt.Fprintln(stdout, `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","cacheKeyType":"Pod","auth":{}}`)
		return 0
	case "fail":
		_, _ = io.Copy(io.Discard, stdin)
		fmt.Fprintf(stderr, "fake: cannot reach the registry API (secret %s)\n", os.Getenv("FAKE_SECRET"))
		return 3
	case "hang":
		time.Sleep(time.Hour)
		return 0
	case "sleep":
		time.Sleep(3 * time.Second)
		return 0
	case "child":
		_, _ = io.Copy(io.Discard, stdin)
		self, err := os.Executable()
		if err != nil {
			return 1
		}
		child := exec.Command(self)
		child.Args = []string{plugintest.Prefix + "sleep"}
		child.Stdout = os.Stdout
		if err := child.Start(); err != nil {
			return 1
		}
		fmt.Fprintln(stdout, `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","cacheKeyType":"Image","auth":{}}`)
		return 0
	}

	auth := plugintest.AuthFlag{}
	var cacheKeyType, cacheDuration string
	var mopts mirror.Options
	// With mirror flags, a mirror must be a registry that an --auth key matches.
	serves := func(_ context.Context, image string) error {
		for k := range auth {
			if ok, _ := keyring.Match(k, image); ok {
				return nil
			}
		}
		return fmt.Errorf("no --auth key matches %s", image)
	}
	p := providers.Plugin{
		Name: plugintest.Prefix + mode,
		Flags: func(fs *flag.FlagSet) {
			fs.Var(auth, "auth", "KEY=USER:PASSWORD")
			fs.StringVar(&cacheKeyType, "cache-key-type", "Image", "cacheKeyType")
			fs.StringVar(&cacheDuration, "cache-duration", "", "cacheDuration")
			mopts.AddFlags(fs, "a registry an --auth key matches")
		},
		New: func(ctx context.Context, log *slog.Logger) (providers.Provider, error) {
			return mirror.Wrap(ctx, providers.ProviderFunc(func(ctx context.Context, req *providers.Request) (*providers.Response, error) {
				resp := &providers.Response{CacheKeyType: providers.CacheKeyType(cacheKeyType), Auth: map[string]providers.AuthConfig{}}
				for k, v := range auth {
					resp.Auth[k] = v
				}
				if env := os.Getenv("FAKE_AUTH"); env != "" {
					_ = auth.Set(env)
					_ = plugintest.AuthFlag(resp.Auth).Set(env)
				}
				if len(auth) == 0 {
					resp.Auth["docker.io"] = providers.AuthConfig{Username: "user", Password: "password"}
				}
				if cacheDuration != "" {
					d, err := time.ParseDuration(cacheDuration)
					if err != nil {
						return nil, err
					}
					resp.CacheDuration = providers.CacheFor(d)
				}
				switch mode {
				case "echo-token":
					for k, v := range resp.Auth {
						v.Password = req.ServiceAccountToken
						resp.Auth[k] = v
					}
				case "env":
					fmt.Fprintf(stderr, "args=%q FAKE_VAR=%q FAKE_PARENT=%q\n", args, os.Getenv("FAKE_VAR"), os.Getenv("FAKE_PARENT"))
				case "leak-forms":
					for _, v := range resp.Auth {
						pair := v.Username + ":" + v.Password
						for _, s := range []string{v.Password, pair} {
							fmt.Fprintf(stderr, "debug: %s std=%s url=%s raw=%s rawurl=%s\n", s,
								base64.StdEncoding.EncodeToString([]byte(s)), base64.URLEncoding.EncodeToString([]byte(s)),
								base64.RawStdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s)))
						}
					}
				}
				return resp, nil
			}), mopts, serves)
		},
	}
	if mode == "dump" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return 1
		}
		if err := os.WriteFile(os.Getenv("FAKE_DUMP"), data, 0o600); err != nil {
			return 1
		}
		stdin = strings.NewReader(string(data))
	}
	return providers.Execute(context.Background(), p, args, stdin, stdout, stderr)
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
