package acr_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/acr"
	"github.com/pullkeys/pullkeys/acr/acrtest"
	"github.com/pullkeys/pullkeys/internal/testkit"
	"github.com/pullkeys/pullkeys/providers"
)

// TestConcurrentColdInvocations: 50 plugin processes started at once for one login server
// (each a provider with its own cache on the shared directory) make one AAD call and one
// exchange, and all answer with the same refresh token.
func TestConcurrentColdInvocations(t *testing.T) {
	for _, tt := range []struct {
		name   string
		config map[string]any
		op     acrtest.Op
	}{
		{name: "managed identity", op: acrtest.IMDSToken},
		{name: "service principal", config: map[string]any{"tenantId": spTenant, "aadClientId": spClientID, "aadClientSecret": spSecret}, op: acrtest.AADToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t)
			dir := t.TempDir()
			cfg := ""
			if tt.config != nil {
				cfg = writeConfig(t, tt.config)
			}
			const n = 50
			var wg sync.WaitGroup
			passwords := make([]string, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := newProvider(t, f, func(o *acr.Options) { o.CloudConfig, o.Cache.Dir = cfg, dir })
					resp, err := p.Provide(context.Background(), &providers.Request{Image: acrtest.LoginServer + "/app"})
					errs[i] = err
					if err == nil {
						passwords[i] = resp.Auth[acrtest.LoginServer].Password
					}
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("process %d: %v", i, err)
				}
			}
			if got := f.Counts(tt.op); got != 1 {
				t.Errorf("%d cold processes made %d %s calls, want 1", n, got, tt.op)
			}
			if got := f.Counts(acrtest.Exchange); got != 1 {
				t.Errorf("%d cold processes made %d exchanges, want 1", n, got)
			}
			for i, pw := range passwords {
				if pw != passwords[0] {
					t.Errorf("process %d got another refresh token than process 0", i)
				}
			}
		})
	}
}

// TestRefreshAndStale follows a refresh token through its life: served from the cache for
// half of it, then fetched again; when that fails, the old one is served with
// cacheDuration 0 until shortly before it expires.
func TestRefreshAndStale(t *testing.T) {
	c := testkit.NewClock(time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC))
	f := start(t)
	f.SetNow(c.Now)
	f.SetLifetimes(24*time.Hour, 3*time.Hour)
	p := newProvider(t, f, func(o *acr.Options) { o.Now = c.Now; o.MaxRetries = -1 })
	get := func() (*providers.Response, error) {
		return p.Provide(context.Background(), &providers.Request{Image: acrtest.LoginServer + "/app"})
	}
	first, err := get()
	if err != nil {
		t.Fatal(err)
	}
	pw1 := first.Auth[acrtest.LoginServer].Password
	c.Advance(time.Hour)
	if got, err := get(); err != nil || got.Auth[acrtest.LoginServer].Password != pw1 || got.CacheDuration.Duration != 30*time.Minute {
		t.Fatalf("after 1h: Provide = %v, %v; want the first token for 30m more", got, err)
	}
	c.Advance(31 * time.Minute) // past half-life: fetched again
	got, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if got.Auth[acrtest.LoginServer].Password == pw1 || f.Counts(acrtest.Exchange) != 2 {
		t.Fatalf("after 1h31m: the first token again, or %d exchanges; want a second exchange", f.Counts(acrtest.Exchange))
	}
	pw2 := got.Auth[acrtest.LoginServer].Password
	c.Advance(2 * time.Hour) // past the second's half-life; the exchange fails
	f.Fail(acrtest.Exchange, http.StatusServiceUnavailable, `{}`, -1)
	got, err = get()
	if err != nil {
		t.Fatalf("stale: %v", err)
	}
	if got.Auth[acrtest.LoginServer].Password != pw2 || got.CacheDuration.Duration != 0 {
		t.Errorf("stale: got another token or cacheDuration %s; want the second token, not to be cached", got.CacheDuration.Duration)
	}
	c.Advance(56 * time.Minute) // 4 minutes left: inside the stale margin
	if got, err := get(); err == nil {
		t.Errorf("near expiry: Provide = %+v, want an error", got)
	}
}

// TestNoSecretsInLogs runs successes and failures at the highest verbosity and checks that no
// secret, AAD token, refresh token or service account token reaches the log.
func TestNoSecretsInLogs(t *testing.T) {
	f := start(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(b)
	}), &slog.HandlerOptions{Level: providers.V(10)}))
	sp := writeConfig(t, map[string]any{"tenantId": spTenant, "aadClientId": spClientID, "aadClientSecret": spSecret})
	p := newProvider(t, f, func(o *acr.Options) { o.CloudConfig = sp; o.Logger = log })
	ctx := providers.WithLogger(context.Background(), log)
	sa := saToken(saSubject)
	reqs := []*providers.Request{
		{Image: acrtest.LoginServer + "/app"},
		{Image: acrtest.LoginServer + "/app", ServiceAccountToken: sa, ServiceAccountAnnotations: map[string]string{acr.AnnotationClientID: wiClientID, acr.AnnotationTenantID: spTenant}},
		{Image: acrtest.LoginServer + "/app", ServiceAccountToken: sa, ServiceAccountAnnotations: map[string]string{acr.AnnotationClientID: wiClientID, acr.AnnotationTenantID: otherTenant}},
		{Image: "evil.azurecr.io.example.com/app"},
	}
	for _, r := range reqs {
		p.Provide(ctx, r)
	}
	f.Fail(acrtest.Exchange, http.StatusUnauthorized, `{"errors":[{"code":"UNAUTHORIZED","message":"`+spSecret+`"}]}`, -1)
	p2 := newProvider(t, f, func(o *acr.Options) { o.Logger = log })
	p2.Provide(ctx, &providers.Request{Image: acrtest.LoginServer + "/app"})

	logs := buf.String()
	if !strings.Contains(logs, "acr: refresh token") {
		t.Fatalf("the logs do not show the answers; the test is not looking at them:\n%s", logs)
	}
	secrets := []string{spSecret, sa}
	for _, op := range []acrtest.Op{acrtest.IMDSToken, acrtest.AADToken, acrtest.Exchange} {
		for _, r := range f.Requests(op) {
			if r.Issued != "" {
				secrets = append(secrets, r.Issued)
			}
		}
	}
	if len(secrets) < 5 {
		t.Fatalf("only %d secrets to look for; the fake issued too little", len(secrets))
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain the secret %.30q…", s)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(b []byte) (int, error) { return w(b) }
