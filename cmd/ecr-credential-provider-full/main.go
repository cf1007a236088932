// Command ecr-credential-provider-full is the full kubelet image credential provider plugin
// for Amazon ECR and ECR Public, run by ecr-credential-provider when it has no saved answer
// to replay. It is a complete plugin by itself. See docs/ecr.md.
package main

import (
	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/providers"
)

func main() { providers.Main(ecr.Plugin()) }
