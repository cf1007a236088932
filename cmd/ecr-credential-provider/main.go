// Command ecr-credential-provider is a kubelet image credential provider plugin for Amazon
// ECR and ECR Public. It is a drop-in for cloud-provider-aws's binary of the same name.
// See docs/ecr.md.
package main

import (
	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/providers"
)

func main() { providers.Main(ecr.Plugin()) }
