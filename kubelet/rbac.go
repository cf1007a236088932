package kubelet

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
)

// TokenAudienceVerb is the verb the API server's NodeRestriction admission asks the authorizer
// about when a kubelet requests a service account token for an audience that no volume of the
// pod names (feature ServiceAccountNodeAudienceRestriction, on by default since 1.33): the
// resource is the audience, the name the service account.
const TokenAudienceVerb = "request-serviceaccounts-token-audience"

// RBACName is the name of the ClusterRole and ClusterRoleBinding of TokenRBAC.
const RBACName = "pullkeys-credential-provider-audiences"

// AudienceGrant is an audience the node's kubelet requests service account tokens for, and
// the providers that need it.
type AudienceGrant struct {
	Audience  string   `json:"audience"`
	Providers []string `json:"providers"`
}

// TokenAudiences returns the audiences of the providers with tokenAttributes, sorted, each
// with its providers in config order. Without an RBAC grant of TokenAudienceVerb on the
// audience to the nodes, the kubelet's token request is refused and the provider is never
// run: pulls fall back to the other credentials, silently.
func TokenAudiences(cfg *Config) []AudienceGrant {
	by := map[string][]string{}
	for _, p := range cfg.Providers {
		if p.TokenAttributes == nil || p.TokenAttributes.ServiceAccountTokenAudience == "" {
			continue
		}
		a := p.TokenAttributes.ServiceAccountTokenAudience
		by[a] = append(by[a], p.Name)
	}
	out := make([]AudienceGrant, 0, len(by))
	for a, provs := range by {
		out = append(out, AudienceGrant{Audience: a, Providers: provs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Audience < out[j].Audience })
	return out
}

// TokenRBAC returns the ClusterRole and ClusterRoleBinding (YAML, two documents) that let
// every node (group system:nodes) request service account tokens for the audiences, for any
// service account; nil when there is none. Narrow it with resourceNames (service account
// names) when only some service accounts pull with tokens.
func TokenRBAC(audiences []AudienceGrant) []byte {
	if len(audiences) == 0 {
		return nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `# Lets the kubelets request service account tokens for the audiences of the credential
# providers with tokenAttributes (KEP-4412; NodeRestriction checks the verb
# %s on the audience). Add resourceNames: [service account names] to a rule to
# allow only those service accounts.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: %s
rules:
`, TokenAudienceVerb, RBACName)
	for _, a := range audiences {
		fmt.Fprintf(&b, "- apiGroups: [\"\"]\n  resources: [%s]\n  verbs: [%q]\n", strconv.Quote(a.Audience), TokenAudienceVerb)
	}
	fmt.Fprintf(&b, `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: %s
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: %s
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: system:nodes
`, RBACName, RBACName)
	return b.Bytes()
}
