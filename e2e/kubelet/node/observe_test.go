package node

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/pullkeys/pullkeys/e2e/harness"
)

// writeCountingPlugins fills dir, the kubelet's --image-credential-provider-bin-dir, with one
// executable per provider: a shell script that appends a line to <dir>/execs/<name> and
// execs the real plugin from built (or the plugin aliases names), so a scenario can tell
// how often the kubelet ran each provider.
func writeCountingPlugins(dir, built string, providers []harness.Provider, aliases map[string]string) error {
	if err := os.MkdirAll(filepath.Join(dir, "execs"), 0o755); err != nil {
		return err
	}
	for _, p := range providers {
		real := p.Name
		if a, ok := aliases[p.Name]; ok {
			real = a
		}
		target := filepath.Join(built, real)
		if _, err := os.Stat(target); err != nil {
			return fmt.Errorf("provider %s: %w", p.Name, err)
		}
		count := filepath.Join(dir, "execs", p.Name)
		script := fmt.Sprintf("#!/bin/sh\necho exec >> %s\nexec %s \"$@\"\n", shellQuote(count), shellQuote(target))
		if err := os.WriteFile(filepath.Join(dir, p.Name), []byte(script), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// execs is how many times the kubelet has run provider name so far.
func (n *node) execs(name string) int {
	b, err := os.ReadFile(filepath.Join(n.binDir, "execs", name))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		n.t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// event is one event the kubelet logged (at V(3) it logs every event it records; with no
// API server that is where they go).
type event struct {
	Reason, Message string
}

func (e event) String() string { return e.Reason + ": " + e.Message }

var (
	eventObject  = regexp.MustCompile(` object="([^"]*)"`)
	eventReason  = regexp.MustCompile(` reason="([^"]*)"`)
	eventMessage = regexp.MustCompile(` message=("(?:[^"\\]|\\.)*")`)
)

// events returns the kubelet's events about the container of pod name, in order: "Pulling",
// "Pulled" ("Successfully pulled image …" or "Container image … already present on machine
// and can be accessed by the pod"), "Failed", "BackOff", "Created", "Started".
func (n *node) events(name string) []event {
	object := fmt.Sprintf("default/%s-%s", name, n.name)
	var evs []event
	sc := bufio.NewScanner(strings.NewReader(n.klog.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.Contains(l, `"Event occurred"`) {
			continue
		}
		o := eventObject.FindStringSubmatch(l)
		r := eventReason.FindStringSubmatch(l)
		m := eventMessage.FindStringSubmatch(l)
		if o == nil || o[1] != object || r == nil || m == nil {
			continue
		}
		msg, err := strconv.Unquote(m[1])
		if err != nil {
			msg = m[1]
		}
		evs = append(evs, event{Reason: r[1], Message: msg})
	}
	return evs
}

// imageDecision is what the kubelet decided about a pod's image, from its events: "present"
// (used the image on the node), "pulled", "failed", or "" (no decision logged yet).
func imageDecision(evs []event) string {
	decision := ""
	for _, e := range evs {
		switch {
		case e.Reason == "Pulled" && strings.Contains(e.Message, "already present on machine"):
			decision = "present"
		case e.Reason == "Pulled" && strings.HasPrefix(e.Message, "Successfully pulled image"):
			decision = "pulled"
		case e.Reason == "Failed" && strings.HasPrefix(e.Message, "Failed to pull image"):
			return "failed"
		}
	}
	return decision
}

// manifestRequests counts the registry's requests for repo's manifests (a pull resolves a
// tag there first) from index from on, and how many carried secret.
func manifestRequests(reg *harness.Registry, from int, repo, secret string) (all, carrying int) {
	reqs := reg.Requests()
	if from > len(reqs) {
		from = len(reqs)
	}
	for _, r := range reqs[from:] {
		if strings.HasPrefix(r.Path, "/v2/"+repo+"/manifests/") {
			all++
			if secret != "" && string(r.Auth.Secret) == secret {
				carrying++
			}
		}
	}
	return all, carrying
}
