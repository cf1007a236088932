// Command dockercfg-credential-provider is a kubelet image credential provider that serves the
// credentials of docker config files and docker credential helpers. It replays the answer
// dockercfg-credential-provider-full gave to the same request while the files it read are
// unchanged, and runs dockercfg-credential-provider-full, installed next to it, for everything
// else (credential helpers among them). See docs/dockercfg.md.
package main

import "github.com/pullkeys/pullkeys/providers/replay"

func main() { replay.Main("dockercfg-credential-provider") }
