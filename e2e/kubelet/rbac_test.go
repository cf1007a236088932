package kubelet

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	rbacauthorizer "k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	pkkubelet "github.com/pullkeys/pullkeys/kubelet"
)

// TestTokenRBACAllowsNodeRestriction asks the RBAC authorizer's rule matcher what the API
// server's NodeRestriction admission asks when a kubelet requests a service account token
// for a provider's audience (plugin/pkg/admission/noderestriction: verb
// request-serviceaccounts-token-audience, resource the audience, name the service account).
func TestTokenRBACAllowsNodeRestriction(t *testing.T) {
	grants := []pkkubelet.AudienceGrant{{Audience: "sts.amazonaws.com", Providers: []string{"ecr"}}, {Audience: "https://registry.example.io/aud", Providers: []string{"x"}}}
	docs := strings.Split(string(pkkubelet.TokenRBAC(grants)), "\n---\n")
	var role rbacv1.ClusterRole
	js, err := yaml.YAMLToJSON([]byte(docs[0]))
	if err != nil {
		t.Fatal(err)
	}
	if strict, err := sigsjson.UnmarshalStrict(js, &role); err != nil || len(strict) > 0 {
		t.Fatalf("ClusterRole: %v %v", err, strict)
	}
	node := &user.DefaultInfo{Name: "system:node:node-1", Groups: []string{"system:nodes", "system:authenticated"}}
	for _, tc := range []struct {
		name, audience, serviceAccount string
		allowed                        bool
	}{
		{"granted audience", "sts.amazonaws.com", "builder", true},
		{"granted audience with slashes", "https://registry.example.io/aud", "default", true},
		{"another audience", "api", "builder", false},
		{"empty audience", "", "builder", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attrs := authorizer.AttributesRecord{
				User: node, Verb: pkkubelet.TokenAudienceVerb, Namespace: "team", APIGroup: "", APIVersion: "v1",
				Resource: tc.audience, Name: tc.serviceAccount, ResourceRequest: true,
			}
			allowed := false
			for i := range role.Rules {
				if rbacauthorizer.RuleAllows(attrs, &role.Rules[i]) {
					allowed = true
				}
			}
			if allowed != tc.allowed {
				t.Errorf("RuleAllows(%s on %q for %s) = %v, want %v", pkkubelet.TokenAudienceVerb, tc.audience, tc.serviceAccount, allowed, tc.allowed)
			}
		})
	}
}
