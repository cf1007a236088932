// Command dockercfg-credential-provider is a kubelet image credential provider that serves the
// credentials of docker config files and docker credential helpers. See docs/dockercfg.md.
package main

import (
	"github.com/pullkeys/pullkeys/dockercfg"
	"github.com/pullkeys/pullkeys/providers"
)

func main() { providers.Main(dockercfg.Plugin()) }
