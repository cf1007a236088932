package kubelet

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/internal/plugintest"
	"github.com/pullkeys/pullkeys/providers"
)

// TestExecRedactsSecretForms: what a plugin prints on stderr is shown (by pullkeys check)
// without the answer's password in any form a program prints it in: clear, as user:password,
// and both in standard, URL-safe and unpadded base64 (a docker config's "auth").
func TestExecRedactsSecretForms(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "leak-forms")
	const user, password = "robot", "pa?>ss~~word" // its base64 forms differ: "/", "+" against "_", "-"
	p := prov("leak-forms", providers.APIVersionV1, []string{"docker.io"}, "--auth=docker.io="+user+":"+password)
	res := Exec(context.Background(), bin, p, &providers.Request{Image: "docker.io/library/nginx"},
		ExecOptions{Timeout: 30 * time.Second, Now: fakeClock()})
	if res.Err != nil {
		t.Fatalf("Exec(%s) error = %v", p.Name, res.Err)
	}
	if !strings.Contains(res.Stderr, "debug:") {
		t.Fatalf("Exec(%s) stderr = %q, want the plugin's lines", p.Name, res.Stderr)
	}
	for _, s := range []string{password, user + ":" + password} {
		for name, form := range map[string]string{
			"clear":           s,
			"base64":          base64.StdEncoding.EncodeToString([]byte(s)),
			"url-safe base64": base64.URLEncoding.EncodeToString([]byte(s)),
			"unpadded base64": base64.RawStdEncoding.EncodeToString([]byte(s)),
			"unpadded url":    base64.RawURLEncoding.EncodeToString([]byte(s)),
		} {
			if strings.Contains(res.Stderr, form) {
				t.Errorf("Exec(%s) stderr shows %q in %s form (%q):\n%s", p.Name, s, name, form, res.Stderr)
			}
		}
	}
}
