package gcr

import (
	"fmt"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/replay"
	"github.com/pullkeys/pullkeys/providers/replay/replaytest"
)

// TestExecuteSavesAnswersForReplay: the node token answer is saved for the front to replay,
// and the replay is the answer with its cacheDuration counted down. The docker config flows
// do not record their answers, and answers to service account tokens are not saved.
func TestExecuteSavesAnswersForReplay(t *testing.T) {
	extra := fmt.Sprintf(`,"serviceAccountToken":%q,"serviceAccountAnnotations":{%q:%q}`, saToken, AnnotationGSA, gsa)
	for _, tc := range []struct {
		name       string
		apiVersion string
		extra      string
		args       []string
		setup      func(t *testing.T, md *gcrtest.Metadata) []string
		wantSaved  bool
	}{
		{name: "v1", apiVersion: providers.APIVersionV1, wantSaved: true},
		{name: "v1beta1", apiVersion: providers.APIVersionV1beta1, wantSaved: true},
		{name: "v1alpha1", apiVersion: providers.APIVersionV1alpha1, wantSaved: true},
		{name: "extra registry", apiVersion: providers.APIVersionV1, args: []string{"--registry=registry.example"}, wantSaved: true},
		{name: "logs asked for", apiVersion: providers.APIVersionV1, args: []string{"-v=2"}},
		{name: "docker config flow", apiVersion: providers.APIVersionV1, args: []string{"--auth-flow=dockercfg"},
			setup: func(t *testing.T, md *gcrtest.Metadata) []string {
				serveDocument(t, md, FlowDockercfg, configJSON)
				return nil
			}},
		{name: "service account token", apiVersion: providers.APIVersionV1, extra: extra,
			setup: func(t *testing.T, md *gcrtest.Metadata) []string {
				w := newWorkload(t)
				return []string{"--workload-identity-provider=" + wifAudience, "--sts-endpoint=" + w.sts.URL(),
					"--iam-credentials-endpoint=" + w.iam.URL()}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := startMetadata(t)
			md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeCloudPlatform}, Token: "node-token"})
			dir := t.TempDir()
			args := append([]string{"--cache-dir=" + dir}, tc.args...)
			if tc.setup != nil {
				args = append(args, tc.setup(t, md)...)
			}
			req := requestJSON(tc.apiVersion, "gcr.io/p/app", tc.extra)
			code, stdout, stderr := execute(t, args, req)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			got, saved := replay.LookupSelf(dir, args, []byte(req), time.Now())
			if saved != tc.wantSaved {
				t.Fatalf("answer saved for replay = %v, want %v", saved, tc.wantSaved)
			}
			if !saved {
				return
			}
			replaytest.CheckReplay(t, tc.apiVersion, []byte(stdout), got, time.Second)
		})
	}
}
