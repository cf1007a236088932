// Command gcr-credential-provider-full is the full kubelet image credential provider for
// Google Container Registry and Artifact Registry, run by gcr-credential-provider when it has
// no saved answer to replay. It is a complete plugin by itself. See docs/gcr.md.
package main

import (
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/providers"
)

func main() { providers.Main(gcr.Plugin()) }
