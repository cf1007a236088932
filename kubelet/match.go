package kubelet

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/pullkeys/pullkeys/providers/keyring"
)

// PatternResult is how one pattern (a matchImages entry or an auth key) fares against an image.
type PatternResult struct {
	Pattern string `json:"pattern"`
	Match   bool   `json:"match"`
	// Reason names the rule that failed: "port", "label count", "path", "host" (see
	// keyring.Mismatch), or "invalid" when the pattern does not parse or its glob is malformed.
	Reason string `json:"reason,omitempty"`
	// Detail explains the failure with the parts of pattern and image that differ.
	Detail string `json:"detail,omitempty"`
}

// ExplainMatch matches image (normalised, as the kubelet sends it) against each pattern with
// the kubelet's rules and says, for each pattern that fails, which rule failed and why.
// It reports whether any pattern matched: a provider is used for the image when one of its
// matchImages entries matches.
func ExplainMatch(patterns []string, image string) (matched bool, results []PatternResult) {
	for _, pattern := range patterns {
		r := explainPattern(pattern, image)
		matched = matched || r.Match
		results = append(results, r)
	}
	return matched, results
}

func explainPattern(pattern, image string) PatternResult {
	r := PatternResult{Pattern: pattern}
	why, err := keyring.Explain(pattern, image)
	if err != nil {
		r.Reason, r.Detail = "invalid", fmt.Sprintf("pattern does not parse or has a malformed glob: %s", err)
		return r
	}
	if why == "" {
		r.Match = true
		return r
	}
	r.Reason = string(why)
	r.Detail = mismatchDetail(why, pattern, image)
	if hint := PatternNeverMatches(pattern); hint != "" {
		r.Detail += "; " + hint
	}
	return r
}

// mismatchDetail names the parts of pattern and image that the failed rule compared, then
// those of the rules the kubelet did not get to, so that one run shows every fix needed.
func mismatchDetail(why keyring.Mismatch, pattern, image string) string {
	p, err1 := keyring.ParseSchemeless(pattern)
	i, err2 := keyring.ParseSchemeless(image)
	if err1 != nil || err2 != nil {
		return ""
	}
	pLabels, pPort := hostParts(p)
	iLabels, iPort := hostParts(i)
	details := map[keyring.Mismatch]string{}
	if pPort != iPort {
		details[keyring.MismatchPort] = fmt.Sprintf("pattern port %s, image port %s: ports must be equal, a pattern without a port never matches an image with one", portText(pPort), portText(iPort))
	}
	if len(pLabels) != len(iLabels) {
		d := fmt.Sprintf("pattern host %q has %d label(s), image host %q has %d", hostOf(p), len(pLabels), hostOf(i), len(iLabels))
		if strings.Contains(hostOf(p), "*") {
			d += ": a '*' matches within one label, never across a '.'"
		}
		details[keyring.MismatchLabels] = d
	}
	if !strings.HasPrefix(i.Path, p.Path) {
		details[keyring.MismatchPath] = fmt.Sprintf("image path %q does not start with pattern path %q", i.Path, p.Path)
	}
	if len(pLabels) == len(iLabels) {
		for k := range pLabels {
			if ok, _ := filepath.Match(pLabels[k], iLabels[k]); !ok {
				details[keyring.MismatchHost] = fmt.Sprintf("host label %d: %q does not match %q", k+1, iLabels[k], pLabels[k])
				break
			}
		}
	}
	out := []string{details[why]}
	for _, m := range []keyring.Mismatch{keyring.MismatchPort, keyring.MismatchLabels, keyring.MismatchPath, keyring.MismatchHost} {
		if d, ok := details[m]; ok && m != why {
			out = append(out, "also "+string(m)+": "+d)
		}
	}
	return strings.Join(out, "; ")
}

func hostParts(u *url.URL) (labels []string, port string) {
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Host, ""
	}
	return strings.Split(host, "."), port
}

func hostOf(u *url.URL) string {
	labels, _ := hostParts(u)
	return strings.Join(labels, ".")
}

func portText(port string) string {
	if port == "" {
		return "none"
	}
	return fmt.Sprintf("%q", port)
}
