// Command gcr-credential-provider is a kubelet image credential provider for Google Container
// Registry and Artifact Registry. Renamed auth-provider-gcp, it takes GKE's kubelet config
// entry unchanged. See docs/gcr.md.
package main

import (
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/providers"
)

func main() { providers.Main(gcr.Plugin()) }
