// Command dockercfg-credential-provider-full is the full kubelet image credential provider
// that serves the credentials of docker config files and docker credential helpers, run by
// dockercfg-credential-provider when it has no saved answer to replay. It is a complete
// plugin by itself. See docs/dockercfg.md.
package main

import (
	"github.com/pullkeys/pullkeys/dockercfg"
	"github.com/pullkeys/pullkeys/providers"
)

func main() { providers.Main(dockercfg.Plugin()) }
