package pullsecret_test

import (
	"fmt"
	"os"

	"github.com/pullkeys/pullkeys/pullsecret"
)

// Create makes the Secret kubectl create secret docker-registry makes, byte for byte.
func ExampleCreate() {
	out, err := pullsecret.Create("regcred", "apps", []pullsecret.Auth{
		{Server: "registry.example.io", Username: "alice", Password: "s3cret"},
	}, pullsecret.FormatYAML)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output:
	// apiVersion: v1
	// data:
	//   .dockerconfigjson: eyJhdXRocyI6eyJyZWdpc3RyeS5leGFtcGxlLmlvIjp7InVzZXJuYW1lIjoiYWxpY2UiLCJwYXNzd29yZCI6InMzY3JldCIsImF1dGgiOiJZV3hwWTJVNmN6TmpjbVYwIn19fQ==
	// kind: Secret
	// metadata:
	//   name: regcred
	//   namespace: apps
	// type: kubernetes.io/dockerconfigjson
}

// Check lists a good Secret's registries and which of them the kubelet uses for an image.
func ExampleCheck() {
	secret, _ := pullsecret.Create("regcred", "apps", []pullsecret.Auth{
		{Server: "registry.example.io/team", Username: "alice", Password: "s3cret"},
		{Server: "https://index.docker.io/v1/", Username: "bob", Password: "hub-token"},
	}, pullsecret.FormatYAML)
	report := pullsecret.Check(secret, pullsecret.CheckOptions{
		Source: "regcred.yaml",
		Images: []string{"registry.example.io/team/app:1.0", "nginx:1.27"},
	})
	_ = report.WriteText(os.Stdout)
	// Output:
	// regcred.yaml: Secret "regcred" in namespace "apps", type kubernetes.io/dockerconfigjson, key .dockerconfigjson
	// registries, in the order the kubelet tries them:
	//   registry.example.io/team
	//     user "alice", password ********(6 chars)
	//     serves images on registry.example.io with no port in the image name, repositories starting with "team" (a plain prefix: "teamx" matches too)
	//   https://index.docker.io/v1/
	//     user "bob", password ********(9 chars)
	//     matched as index.docker.io
	//     serves Docker Hub images (docker.io/…) that no other entry matches, by the kubelet's fallback
	// images:
	//   registry.example.io/team/app:1.0 (sent as registry.example.io/team/app)
	//     uses registry.example.io/team
	//   nginx:1.27 (sent as docker.io/library/nginx)
	//     uses https://index.docker.io/v1/ (Docker Hub's entry: no key matches, and the image is on Docker Hub)
	// OK: a valid image pull secret with 2 registries
}

// Check says where a broken Secret's base64 breaks, without showing it.
func ExampleCheck_wrappedBase64() {
	secret := []byte(`apiVersion: v1
kind: Secret
metadata:
  name: regcred
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: eyJhdXRocyI6eyJyZWdpc3RyeS5leGFtcGxlLmlvIjp7ImF1dGgiOiJZV3hw
    WTJVNmN6TmpjbVYwIn19fQ==
`)
	report := pullsecret.Check(secret, pullsecret.CheckOptions{Source: "regcred.yaml"})
	_ = report.WriteText(os.Stdout)
	fmt.Println("ok:", report.OK())
	// Output:
	// regcred.yaml: Secret "regcred" (no namespace: kubectl's current one), type kubernetes.io/dockerconfigjson
	//   error: data[.dockerconfigjson]: not valid base64 (bad data at byte 60 of 85, a space: was the base64 wrapped over several lines? A plain YAML value folds line breaks into spaces; write it on one line (base64 -w0) or as a block (|)): the API server rejects the Secret
	// 1 error, 0 warnings
	// ok: false
}
