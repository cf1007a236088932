package prepull_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/prepull"
	"github.com/pullkeys/pullkeys/prepull/critest"
)

func TestRuntimeRef(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ name, image, want string }{
		{"no tag gets latest", "nginx", "nginx:latest"},
		{"name kept as written", "registry.example:5000/app", "registry.example:5000/app:latest"},
		{"tag kept", "nginx:1.27", "nginx:1.27"},
		{"digest kept", "nginx@" + d, "nginx@" + d},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := prepull.RuntimeRef(tc.image)
			if err != nil || got != tc.want {
				t.Errorf("RuntimeRef(%q) = %q, %v; want %q", tc.image, got, err, tc.want)
			}
		})
	}
}

// creds is a Credentials that serves fixed credentials by image.
func creds(m map[string][]prepull.Credential) prepull.Credentials {
	return func(_ context.Context, image string) ([]prepull.Credential, string) {
		return m[image], "diagnosis of " + image
	}
}

func TestRun(t *testing.T) {
	registry := []critest.Image{
		{Ref: "registry.example/private:v1", Username: "u", Password: "secret-password", Size: 100},
		{Ref: "registry.example/public:latest", Size: 50},
		{Ref: "registry.example/present:v1", Size: 10},
	}
	good := prepull.Credential{Username: "u", Password: "secret-password", Source: "provider p"}
	bad := prepull.Credential{Username: "u", Password: "wrong-password", Source: "secret s"}
	type result struct{ Image, Status, Credential, Error string }
	for _, tc := range []struct {
		name      string
		images    []string
		creds     map[string][]prepull.Credential
		checkOnly bool
		parallel  int
		want      []result
		wantPulls []string
	}{
		{
			name:   "pulls what is missing, keeps what is present",
			images: []string{"registry.example/present:v1", "registry.example/public", "registry.example/private:v1"},
			creds:  map[string][]prepull.Credential{"registry.example/private:v1": {good}},
			want: []result{
				{"registry.example/present:v1", prepull.StatusPresent, "", ""},
				{"registry.example/public", prepull.StatusPulled, "anonymous", ""},
				{"registry.example/private:v1", prepull.StatusPulled, "provider p", ""},
			},
			wantPulls: []string{"registry.example/public:latest", "registry.example/private:v1"},
		},
		{
			name:      "tries credentials in order",
			images:    []string{"registry.example/private:v1"},
			creds:     map[string][]prepull.Credential{"registry.example/private:v1": {bad, good}},
			want:      []result{{"registry.example/private:v1", prepull.StatusPulled, "provider p", ""}},
			wantPulls: []string{"registry.example/private:v1", "registry.example/private:v1"},
		},
		{
			name:      "no credentials: the registry's error",
			images:    []string{"registry.example/private:v1"},
			want:      []result{{"registry.example/private:v1", prepull.StatusFailed, "", "pull access denied"}},
			wantPulls: []string{"registry.example/private:v1"},
		},
		{
			name:      "missing image",
			images:    []string{"registry.example/nope:v1"},
			parallel:  4,
			want:      []result{{"registry.example/nope:v1", prepull.StatusFailed, "", "not found"}},
			wantPulls: []string{"registry.example/nope:v1"},
		},
		{
			name:      "check only pulls nothing",
			images:    []string{"registry.example/present:v1", "registry.example/public"},
			checkOnly: true,
			want: []result{
				{"registry.example/present:v1", prepull.StatusPresent, "", ""},
				{"registry.example/public", prepull.StatusMissing, "", ""},
			},
		},
		{
			name:   "bad reference",
			images: []string{"Registry/UPPER::x"},
			want:   []result{{"Registry/UPPER::x", prepull.StatusFailed, "", "invalid reference format"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := critest.New(t, registry, "registry.example/present:v1")
			svc, err := prepull.Connect(context.Background(), fake.Endpoint, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = svc.Close(context.Background()) })
			var progressed int
			results := prepull.Run(context.Background(), prepull.Options{
				Images: tc.images, Service: svc, Credentials: creds(tc.creds), CheckOnly: tc.checkOnly, Parallel: tc.parallel,
				Progress: func(prepull.Result) { progressed++ },
			})
			var got []result
			for _, r := range results {
				errText := ""
				if r.Error != "" {
					errText = r.Error
					for _, w := range tc.want {
						if w.Image == r.Image && w.Error != "" && strings.Contains(r.Error, w.Error) {
							errText = w.Error
						}
					}
				}
				if strings.Contains(r.Error, "secret-password") || strings.Contains(r.Error, "wrong-password") {
					t.Errorf("Run: error shows a password: %s", r.Error)
				}
				if r.Status == prepull.StatusPulled && (r.ID == "" || r.Size == 0 || r.Duration == "") {
					t.Errorf("Run: pulled %s without id, size or duration: %+v", r.Image, r)
				}
				got = append(got, result{r.Image, r.Status, r.Credential, errText})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Run(%q) (-want +got):\n%s", tc.images, diff)
			}
			if diff := cmp.Diff(tc.wantPulls, fake.Pulls()); diff != "" {
				t.Errorf("Run(%q) pulls (-want +got):\n%s", tc.images, diff)
			}
			if progressed != len(tc.images) {
				t.Errorf("Run(%q) reported progress %d times, want %d", tc.images, progressed, len(tc.images))
			}

			if tc.checkOnly {
				return
			}
			// A second run finds everything the first one pulled and pulls nothing more.
			before := len(fake.Pulls())
			for _, r := range prepull.Run(context.Background(), prepull.Options{Images: tc.images, Service: svc, Credentials: creds(tc.creds)}) {
				for _, first := range results {
					if first.Image == r.Image && !first.Missing() && r.Status != prepull.StatusPresent {
						t.Errorf("second Run: %s is %s, want present", r.Image, r.Status)
					}
				}
			}
			pulledAgain := len(fake.Pulls()) - before
			failed := 0
			for _, r := range results {
				if r.Missing() && r.Ref != "" {
					failed++
				}
			}
			if pulledAgain != failed {
				t.Errorf("second Run made %d pull(s), want %d (only the failed images)", pulledAgain, failed)
			}
		})
	}
}

func TestAllowlist(t *testing.T) {
	results := []prepull.Result{
		{Image: "b.example/app:v1", Status: prepull.StatusPulled, AllowlistEntry: "b.example/app"},
		{Image: "a.example/app:v2", Status: prepull.StatusPresent, AllowlistEntry: "a.example/app"},
		{Image: "b.example/app:v2", Status: prepull.StatusPresent, AllowlistEntry: "b.example/app"},
		{Image: "c.example/app:v1", Status: prepull.StatusFailed, AllowlistEntry: "c.example/app"},
	}
	if diff := cmp.Diff([]string{"a.example/app", "b.example/app"}, prepull.Allowlist(results)); diff != "" {
		t.Errorf("Allowlist (-want +got):\n%s", diff)
	}
}
