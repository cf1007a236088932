package acrtest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Transport returns an HTTP client that routes the real Azure hosts to the fake: IMDS's
// 169.254.169.254 to IMDS, login.* (every cloud's AAD authority) to AAD, and any host under a
// registry suffix (azurecr.*, or one the fake hosts) to the registry. The Host header keeps
// the name the client used, so AAD's issuer and the registry's challenge name it as the real
// services do. Loopback hosts pass through; anything else fails without touching the network.
// Hosts lists the names seen.
func (f *Fake) Transport() *http.Client {
	base := f.AAD.Client().Transport
	return &http.Client{
		Transport: roundTripper(func(req *http.Request) (*http.Response, error) {
			host := req.URL.Hostname()
			var target *url.URL
			switch {
			case host == "127.0.0.1" || host == "::1" || host == "localhost":
				return base.RoundTrip(req)
			case host == "169.254.169.254" && req.URL.Scheme == "http":
				target, _ = url.Parse(f.IMDS.URL)
			case strings.HasPrefix(host, "login.") && req.URL.Scheme == "https":
				target, _ = url.Parse(f.AAD.URL)
			case f.isRegistry(host) && req.URL.Scheme == "https":
				target, _ = url.Parse(f.Registry.URL)
			default:
				return nil, fmt.Errorf("acrtest: no route to %s://%s (the fake serves IMDS, login.* and registries)", req.URL.Scheme, req.URL.Host)
			}
			f.mu.Lock()
			f.hosts = append(f.hosts, host)
			f.mu.Unlock()
			out := req.Clone(req.Context())
			out.URL.Host = target.Host
			out.Host = req.URL.Host
			return base.RoundTrip(out)
		}),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Hosts returns the host names Transport routed, in order.
func (f *Fake) Hosts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.hosts...)
}

func (f *Fake) isRegistry(host string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Contains(host, ".azurecr.") || f.registries[strings.ToLower(host)]
}

type roundTripper func(*http.Request) (*http.Response, error)

func (r roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return r(req) }
