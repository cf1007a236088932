package gcr_test

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
)

func ExampleParseHost() {
	for _, image := range []string{
		"gcr.io/my-project/app:1.0",
		"europe-west1-docker.pkg.dev/my-project/repo/app",
		"docker.us-central1.rep.pkg.dev/my-project/repo/app",
		"gcr.io.evil.io/my-project/app",
		"gcr.io:443/my-project/app",
	} {
		h, err := gcr.ParseHost(image)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: %v %q\n", h.Name, h.Kind, h.Location)
	}
	// Output:
	// gcr.io: Container Registry ""
	// europe-west1-docker.pkg.dev: Artifact Registry "europe-west1"
	// docker.us-central1.rep.pkg.dev: Artifact Registry regional endpoint "us-central1"
	// gcr.io.evil.io: not a Google registry ""
	// gcr.io:443: not a Google registry ""
}

func ExampleProvider() {
	// A fake metadata server stands in for the GCE one.
	md := gcrtest.NewMetadata()
	defer md.Close()
	os.Setenv(gcr.MetadataHostEnv, md.Host())
	defer os.Unsetenv(gcr.MetadataHostEnv)

	p, err := gcr.New(gcr.Options{Cache: cache.Options{NoDisk: true}})
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := p.Provide(context.Background(), &providers.Request{Image: "us-docker.pkg.dev/my-project/repo/app"})
	if err != nil {
		fmt.Println(err)
		return
	}
	keys := make([]string, 0, len(resp.Auth))
	for k := range resp.Auth {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Println(resp.CacheKeyType, keys, resp.Auth["*.pkg.dev"].Username)
	// Output:
	// Global [*.gcr.io *.pkg.dev container.cloud.google.com docker.*.rep.pkg.dev gcr.io] oauth2accesstoken
}
