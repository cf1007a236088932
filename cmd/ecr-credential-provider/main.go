// Command ecr-credential-provider is a kubelet image credential provider plugin for Amazon
// ECR and ECR Public. It replays the answer ecr-credential-provider-full gave to the same
// request while its token is fresh in the shared cache, and runs
// ecr-credential-provider-full, installed next to it, for everything else. See docs/ecr.md.
package main

import "github.com/pullkeys/pullkeys/providers/replay"

func main() { replay.Main("ecr-credential-provider") }
