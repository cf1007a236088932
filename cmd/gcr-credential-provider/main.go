// Command gcr-credential-provider is a kubelet image credential provider for Google Container
// Registry and Artifact Registry. It replays the answer gcr-credential-provider-full gave to
// the same request while its token is fresh in the shared cache, and runs
// gcr-credential-provider-full, installed next to it, for everything else. See docs/gcr.md.
package main

import "github.com/pullkeys/pullkeys/providers/replay"

func main() { replay.Main("gcr-credential-provider") }
