// Command fixed is the protocol floor of the benchmarks: providers.Main (flags, logger,
// apimachinery decoding and encoding, image normalisation) around a provider that answers
// every request with fixed credentials. Its difference from the floor program is the cost of
// the shared protocol layer; a provider's difference from it is the provider's own.
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/pullkeys/pullkeys/providers"
)

func main() {
	providers.Main(providers.Plugin{
		Name:  "fixed",
		Usage: "Answers every request with fixed credentials (a benchmark floor).",
		New: func(context.Context, *slog.Logger) (providers.Provider, error) {
			return providers.ProviderFunc(func(context.Context, *providers.Request) (*providers.Response, error) {
				return &providers.Response{
					CacheKeyType:  providers.CacheKeyRegistry,
					CacheDuration: providers.CacheFor(time.Hour),
					Auth:          map[string]providers.AuthConfig{"fixed.invalid": {Username: "fixed", Password: "fixed"}},
				}, nil
			}), nil
		},
	})
}
