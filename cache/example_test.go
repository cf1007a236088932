package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pullkeys/pullkeys/cache"
)

func ExampleCache_GetOrFetch() {
	// Options{} is memory only; a plugin sets Dir (see Options.AddFlags) to share the cache
	// with the node's other plugin processes.
	c := cache.New(cache.Options{})
	// The key says whose credentials for what: the identity is hashed, never stored raw.
	key := cache.NewKey("ecr", "123456789012", "us-east-1", cache.HashIdentity("arn:aws:iam::123456789012:role/node"))
	fetch := func(ctx context.Context) (*cache.Entry, error) {
		// Call the cloud API here.
		now := time.Now()
		return &cache.Entry{
			Auth: map[string]cache.Credentials{
				"123456789012.dkr.ecr.us-east-1.amazonaws.com": {Username: "AWS", Password: "token"},
			},
			FetchedAt: now,
			ExpiresAt: now.Add(12 * time.Hour),
		}, nil
	}

	for range 2 {
		r, err := c.GetOrFetch(context.Background(), key, fetch)
		if err != nil {
			fmt.Println(err)
			return
		}
		// Hand r.FreshFor to the kubelet as the cache duration.
		fmt.Println(r.Source, r.Entry.Auth["123456789012.dkr.ecr.us-east-1.amazonaws.com"].Username,
			r.FreshFor.Round(time.Hour))
	}
	// Output:
	// fetched AWS 6h0m0s
	// memory AWS 6h0m0s
}
