// Command fakeplugin is the credential provider plugin of the kubelet-conformance suite: a
// real exec plugin built on providers.Execute whose answer is set by environment variables,
// which the suite passes through the env of the provider's CredentialProviderConfig entry.
//
//	FAKE_LOG             file to which one JSON line is appended per exec (see record)
//	FAKE_RESPONSE_FILE   raw mode: copy this file to stdout and exit 0, bypassing providers
//	FAKE_ERROR           the provider fails with this message (exit status 1)
//	FAKE_CACHE_KEY_TYPE  Image (default), Registry or Global
//	FAKE_CACHE_DURATION  a Go duration; unset leaves cacheDuration off the wire
//	FAKE_AUTH            JSON object: pattern → {"username","password"}; default
//	                     {"{registry}":{"username":"{user}","password":"pass-{n}"}}
//
// In FAKE_AUTH keys and values, {registry} is the registry of the requested image, {image}
// the image, {token} the service account token, {n} the number of this exec (lines in
// FAKE_LOG) and {user} the value of the --user flag (default "user").
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// record is one line of FAKE_LOG.
type record struct {
	Args []string `json:"args"`
	// Stdin is the request exactly as the kubelet wrote it.
	Stdin string `json:"stdin"`
	// Decoded is the request as providers decoded it (absent in raw mode).
	Decoded *decoded `json:"decoded,omitempty"`
}

type decoded struct {
	Image       string            `json:"image"`
	Token       string            `json:"token,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func main() {
	stdin, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fakeplugin: read stdin: %v\n", err)
		os.Exit(1)
	}
	if raw := os.Getenv("FAKE_RESPONSE_FILE"); raw != "" {
		if _, err := appendRecord(record{Args: os.Args[1:], Stdin: string(stdin)}); err != nil {
			fail(err)
		}
		out, err := os.ReadFile(raw)
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(out)
		return
	}
	user := "user"
	p := providers.Plugin{
		Name:  "fakeplugin",
		Usage: "The kubelet-conformance suite's plugin; see its package comment.",
		Flags: func(fs *flag.FlagSet) { fs.StringVar(&user, "user", user, "username in the default answer") },
		New: func(ctx context.Context, log *slog.Logger) (providers.Provider, error) {
			return providers.ProviderFunc(func(ctx context.Context, req *providers.Request) (*providers.Response, error) {
				return provide(req, stdin, user)
			}), nil
		},
	}
	os.Exit(providers.Execute(context.Background(), p, os.Args[1:], bytes.NewReader(stdin), os.Stdout, os.Stderr))
}

func provide(req *providers.Request, stdin []byte, user string) (*providers.Response, error) {
	n, err := appendRecord(record{
		Args:    os.Args[1:],
		Stdin:   string(stdin),
		Decoded: &decoded{Image: req.Image, Token: req.ServiceAccountToken, Annotations: req.ServiceAccountAnnotations},
	})
	if err != nil {
		return nil, err
	}
	if msg := os.Getenv("FAKE_ERROR"); msg != "" {
		return nil, errors.New(msg)
	}
	resp := &providers.Response{CacheKeyType: providers.CacheKeyImage}
	if kt := os.Getenv("FAKE_CACHE_KEY_TYPE"); kt != "" {
		resp.CacheKeyType = providers.CacheKeyType(kt)
	}
	if d := os.Getenv("FAKE_CACHE_DURATION"); d != "" {
		dur, err := time.ParseDuration(d)
		if err != nil {
			return nil, err
		}
		resp.CacheDuration = providers.CacheFor(dur)
	}
	auth := `{"{registry}":{"username":"{user}","password":"pass-{n}"}}`
	if a := os.Getenv("FAKE_AUTH"); a != "" {
		auth = a
	}
	r := strings.NewReplacer(
		"{registry}", keyring.Registry(req.Image),
		"{image}", req.Image,
		"{token}", req.ServiceAccountToken,
		"{n}", strconv.Itoa(n),
		"{user}", user,
	)
	var entries map[string]providers.AuthConfig
	if err := json.Unmarshal([]byte(auth), &entries); err != nil {
		return nil, fmt.Errorf("FAKE_AUTH: %w", err)
	}
	resp.Auth = make(map[string]providers.AuthConfig, len(entries))
	for k, v := range entries {
		resp.Auth[r.Replace(k)] = providers.AuthConfig{Username: r.Replace(v.Username), Password: r.Replace(v.Password)}
	}
	return resp, nil
}

// appendRecord appends rec to FAKE_LOG and returns the number of records in it.
func appendRecord(rec record) (int, error) {
	path := os.Getenv("FAKE_LOG")
	if path == "" {
		return 1, nil
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return bytes.Count(data, []byte("\n")), nil
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "fakeplugin: %v\n", err)
	os.Exit(1)
}
