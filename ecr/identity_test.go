package ecr

import (
	"errors"
	"strings"
	"testing"
)

func TestRoleFor(t *testing.T) {
	const (
		ecrRole  = "arn:aws:iam::111111111111:role/ecr-pull"
		irsaRole = "arn:aws:iam::222222222222:role/irsa"
		defRole  = "arn:aws:iam::333333333333:role/default"
	)
	for _, tc := range []struct {
		name        string
		token       string
		annotations map[string]string
		def         string
		want        string
		wantSource  RoleSource
	}{
		{"no token: node, whatever the annotations", "", map[string]string{AnnotationECRRoleARN: ecrRole}, defRole, "", RoleNone},
		{"ecr-role-arn first", "tok", map[string]string{AnnotationECRRoleARN: ecrRole, AnnotationRoleARN: irsaRole}, defRole, ecrRole, RoleFromECRAnnotation},
		{"role-arn second", "tok", map[string]string{AnnotationRoleARN: irsaRole}, defRole, irsaRole, RoleFromAnnotation},
		{"default third", "tok", map[string]string{"other": "x"}, defRole, defRole, RoleFromDefault},
		{"blank annotation is absent", "tok", map[string]string{AnnotationECRRoleARN: "  ", AnnotationRoleARN: irsaRole}, "", irsaRole, RoleFromAnnotation},
		{"no role anywhere: node", "tok", nil, "", "", RoleNone},
		{"blank default: node", "tok", nil, " ", "", RoleNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, src := RoleFor(tc.token, tc.annotations, tc.def)
			if got != tc.want || src != tc.wantSource {
				t.Errorf("RoleFor(%q, %v, %q) = %q, %q; want %q, %q", tc.token, tc.annotations, tc.def, got, src, tc.want, tc.wantSource)
			}
		})
	}
}

func TestValidateRoleARN(t *testing.T) {
	for _, tc := range []struct {
		name string
		arn  string
		ok   bool
	}{
		{"aws", "arn:aws:iam::123456789012:role/app", true},
		{"with path", "arn:aws:iam::123456789012:role/team/app", true},
		{"china", "arn:aws-cn:iam::123456789012:role/app", true},
		{"govcloud", "arn:aws-us-gov:iam::123456789012:role/app", true},
		{"empty", "", false},
		{"not an arn", "app-role", false},
		{"user, not role", "arn:aws:iam::123456789012:user/bob", false},
		{"role without name", "arn:aws:iam::123456789012:role/", false},
		{"short account", "arn:aws:iam::12345678901:role/app", false},
		{"with region", "arn:aws:iam:us-east-1:123456789012:role/app", false},
		{"other service", "arn:aws:sts::123456789012:role/app", false},
		{"other partition prefix", "arn:azure:iam::123456789012:role/app", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateRoleARN(tc.arn)
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalidRoleARN) {
				t.Errorf("ValidateRoleARN(%q) = %v, want ok=%v", tc.arn, err, tc.ok)
			}
		})
	}
}

func TestSessionName(t *testing.T) {
	long := strings.Repeat("n", 80)
	for _, tc := range []struct {
		name, token, want string
	}{
		{"service account", saToken("team-a", "puller", "uid-1", 1), "pullkeys-team-a-puller"},
		{"cut to 64", saToken("ns", long, "uid-1", 1), ("pullkeys-ns-" + long)[:64]},
		{"not a jwt", "opaque-token", "pullkeys"},
		{"bad base64", "a.%%%.c", "pullkeys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sessionName(tc.token); got != tc.want {
				t.Errorf("sessionName(%.20q…) = %q, want %q", tc.token, got, tc.want)
			}
		})
	}
}

func TestServiceAccountID(t *testing.T) {
	a1, a2 := saToken("ns", "a", "uid-a", 1), saToken("ns", "a", "uid-a", 2)
	recreated := saToken("ns", "a", "uid-a2", 3)
	b := saToken("ns", "b", "uid-b", 1)
	if serviceAccountID(a1) != serviceAccountID(a2) {
		t.Errorf("serviceAccountID differs for two tokens of one service account")
	}
	for _, other := range []string{recreated, b, "opaque"} {
		if serviceAccountID(a1) == serviceAccountID(other) {
			t.Errorf("serviceAccountID(%.30q…) = serviceAccountID(%.30q…), want different", a1, other)
		}
	}
	if serviceAccountID("opaque-1") == serviceAccountID("opaque-2") {
		t.Errorf("serviceAccountID is equal for two opaque tokens")
	}
	if id := serviceAccountID(a1); strings.Contains(a1, id) || strings.Contains(id, "ns") {
		t.Errorf("serviceAccountID(%q) = %q, want an opaque hash", a1, id)
	}
}

func TestNodeIdentity(t *testing.T) {
	base := map[string]string{"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_PROFILE": ""}
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name   string
		change map[string]string
		same   bool
	}{
		{"unrelated variable", map[string]string{"PATH": "/elsewhere"}, true},
		// Inputs the SDK's credential chain reads (issue 20, 4.3): HOME selects
		// ~/.aws/credentials and ~/.aws/config.
		{"home", map[string]string{"HOME": "/elsewhere"}, false},
		{"shared credentials file", map[string]string{"AWS_SHARED_CREDENTIALS_FILE": "/elsewhere/credentials"}, false},
		{"shared config file", map[string]string{"AWS_CONFIG_FILE": "/elsewhere/config"}, false},
		{"web identity token file", map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/other/token"}, false},
		{"container credentials token file", map[string]string{"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/var/run/other/token"}, false},
		{"container credentials token", map[string]string{"AWS_CONTAINER_AUTHORIZATION_TOKEN": "other"}, false},
		{"ca bundle", map[string]string{"AWS_CA_BUNDLE": "/elsewhere/ca.pem"}, false},
		{"imds endpoint mode", map[string]string{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"}, false},
		{"secret key is not part of it", map[string]string{"AWS_SECRET_ACCESS_KEY": "other"}, true},
		{"access key", map[string]string{"AWS_ACCESS_KEY_ID": "AKIA2"}, false},
		{"profile", map[string]string{"AWS_PROFILE": "other"}, false},
		{"ecr endpoint", map[string]string{"AWS_ENDPOINT_URL_ECR": "http://127.0.0.1:1"}, false},
		{"pod identity", map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials"}, false},
		{"web identity role", map[string]string{"AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/x"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := map[string]string{}
			for k, v := range base {
				changed[k] = v
			}
			for k, v := range tc.change {
				changed[k] = v
			}
			if got := nodeIdentity(get(base)) == nodeIdentity(get(changed)); got != tc.same {
				t.Errorf("nodeIdentity equal after changing %v = %v, want %v", tc.change, got, tc.same)
			}
		})
	}
}
