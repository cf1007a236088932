package prepull_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestPluginsDoNotLinkCRI keeps the CRI client and gRPC out of the credential provider
// binaries: only the pullkeys binary may link them (the kubelet execs a plugin for each pull,
// and every dependency is start-up time and attack surface).
func TestPluginsDoNotLinkCRI(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	type binary struct {
		pkg     string
		mayLink bool
	}
	cases := []binary{{"github.com/pullkeys/pullkeys/cmd/pullkeys", true}}
	entries, err := os.ReadDir("../cmd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "-credential-provider") {
			cases = append(cases, binary{"github.com/pullkeys/pullkeys/cmd/" + e.Name(), false})
		}
	}
	if len(cases) < 4 {
		t.Fatalf("found %d binaries under cmd/, want the plugins and pullkeys", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.pkg[strings.LastIndex(tc.pkg, "/")+1:], func(t *testing.T) {
			out, err := exec.Command(goBin, "list", "-deps", tc.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tc.pkg, err)
			}
			var cri []string
			for _, dep := range strings.Fields(string(out)) {
				if strings.HasPrefix(dep, "google.golang.org/grpc") || strings.HasPrefix(dep, "k8s.io/cri-client") || strings.HasPrefix(dep, "k8s.io/cri-api") {
					cri = append(cri, dep)
				}
			}
			if linked := len(cri) > 0; linked != tc.mayLink {
				t.Errorf("%s links %d CRI/gRPC package(s) %.3q…; want linked %v", tc.pkg, len(cri), cri, tc.mayLink)
			}
		})
	}
}
