// Command acr-credential-provider is the kubelet image credential provider for Azure Container
// Registry. See package acr and docs/acr.md.
package main

import (
	"github.com/pullkeys/pullkeys/acr"
	"github.com/pullkeys/pullkeys/providers"
)

func main() { providers.Main(acr.Plugin()) }
