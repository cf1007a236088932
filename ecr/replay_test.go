package ecr

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/replay"
	"github.com/pullkeys/pullkeys/providers/replay/replaytest"
)

// TestExecuteSavesAnswersForReplay: a node identity answer is saved for the front to replay,
// and the replay is the answer with its cacheDuration counted down; answers to service
// account tokens and runs with logs are not saved.
func TestExecuteSavesAnswersForReplay(t *testing.T) {
	token := saToken("team", "puller", "uid", 1)
	for _, tc := range []struct {
		name       string
		apiVersion string
		image      string
		token      string
		args       []string
		wantSaved  bool
	}{
		{name: "v1", apiVersion: providers.APIVersionV1, image: privateImg, wantSaved: true},
		{name: "v1beta1", apiVersion: providers.APIVersionV1beta1, image: privateImg, wantSaved: true},
		{name: "v1alpha1", apiVersion: providers.APIVersionV1alpha1, image: privateImg, wantSaved: true},
		{name: "public", apiVersion: providers.APIVersionV1, image: "public.ecr.aws/nginx/nginx", wantSaved: true},
		{name: "service account token", apiVersion: providers.APIVersionV1, image: privateImg, token: token,
			args: []string{"--role-arn=" + roleA}},
		{name: "logs asked for", apiVersion: providers.APIVersionV1, image: privateImg, args: []string{"-v=1"}},
		{name: "memory only", apiVersion: providers.APIVersionV1, image: privateImg, args: []string{"--no-disk-cache"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newEnvWith(t, realClock())
			dir := t.TempDir()
			args := append([]string{"--cache-dir=" + dir, "--max-backoff=1ms"}, tc.args...)
			req := request(t, tc.apiVersion, tc.image, tc.token, nil)
			var stdout, stderr bytes.Buffer
			if code := providers.Execute(context.Background(), Plugin(), args, strings.NewReader(req), &stdout, &stderr); code != 0 {
				t.Fatalf("Execute = %d, stderr %q", code, stderr.String())
			}
			got, saved := replay.LookupSelf(dir, args, []byte(req), time.Now())
			if saved != tc.wantSaved {
				t.Fatalf("answer saved for replay = %v, want %v", saved, tc.wantSaved)
			}
			if !saved {
				return
			}
			replaytest.CheckReplay(t, tc.apiVersion, stdout.Bytes(), got, time.Second)
		})
	}
}
