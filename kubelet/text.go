package kubelet

import (
	"fmt"
	"github.com/pullkeys/pullkeys/providers/keyring"
	"io"
	"strings"
	"time"
)

// WriteText writes problems one a line, errors first, as "error: file: field: Type: detail".
func (ps Problems) WriteText(w io.Writer) error {
	tw := &textWriter{w: w}
	for _, p := range append(ps.Errors(), ps.Warnings()...) {
		tw.line(0, "%s: %s", p.Severity, p)
	}
	return tw.err
}

// WriteText writes the report for a person. Passwords appear as they are in the report
// (masked unless secrets were asked for); the plugin's stdout never appears.
func (r *Report) WriteText(w io.Writer) error {
	tw := &textWriter{w: w}
	files := ""
	if len(r.Files) > 1 || (len(r.Files) == 1 && r.Files[0] != r.Config) {
		files = fmt.Sprintf(" (%d file(s): %s)", len(r.Files), strings.Join(r.Files, ", "))
	}
	tw.line(0, "config %s%s", r.Config, files)
	tw.line(0, "bin dir %s", r.BinDir)
	if errs := r.Problems.Errors(); len(errs) > 0 {
		tw.line(0, "")
		tw.line(0, "the kubelet would not start with this config (%d error(s)); what each plugin would do if it did follows", len(errs))
	}
	for _, p := range append(r.Problems.Errors(), r.Problems.Warnings()...) {
		tw.line(1, "%s: %s", p.Severity, p)
	}
	for _, img := range r.Images {
		tw.line(0, "")
		img.writeText(tw)
	}
	return tw.err
}

func (img *ImageReport) writeText(tw *textWriter) {
	if img.Error != "" {
		tw.line(0, "image %s: %s", img.Image, img.Error)
		tw.line(1, "result: %s", img.Status)
		return
	}
	if img.Normalized != img.Image {
		tw.line(0, "image %s, sent to plugins as %s", img.Image, img.Normalized)
	} else {
		tw.line(0, "image %s", img.Image)
	}
	for _, p := range img.Providers {
		p.writeText(tw, img.Normalized)
	}
	if len(img.Credentials) == 0 {
		tw.line(1, "credentials: none, the runtime pulls %s anonymously", img.Normalized)
	} else {
		tw.line(1, "credentials handed to the runtime, in the order it tries them:")
		for i, c := range img.Credentials {
			tw.line(2, "%d. %s: username %q, password %s (from %s)", i+1, c.Key, c.Username, c.Password, c.Provider)
		}
	}
	if img.Runtime != nil {
		img.Runtime.writeText(tw)
	}
	if img.Pull != nil {
		img.Pull.writeText(tw, len(img.Credentials))
	}
	tw.line(1, "result: %s", img.Status)
}

func (pr *PullReport) writeText(tw *textWriter, creds int) {
	if pr.PolicySource == "default" {
		tw.line(1, "pull policy %s (the API server's default for this image)", pr.Policy)
	} else {
		tw.line(1, "pull policy %s (given; the API server's default for this image is %s)", pr.Policy, pr.DefaultPolicy)
	}
	if pr.WhenAbsent == FailNever {
		tw.line(2, "image absent: the pod fails with ErrImageNeverPull")
	} else {
		tw.line(2, "image absent: the kubelet pulls it")
	}
	v := pr.Verification
	if pr.Policy == PullAlways {
		tw.line(2, "image present: the kubelet pulls every time (the runtime contacts the registry and reuses the layers it has)")
		return
	}
	switch {
	case !v.FeatureGate:
		tw.line(2, "image present: any pod uses it, no registry contact (%s is off in %s)", EnsureSecretPulledImagesGate, v.KubeletConfig)
		return
	case v.KubeletConfig == "":
		tw.line(2, "image present, verification policy %s (the kubelet's default; give --kubelet-config for the node's):", v.Policy)
	default:
		tw.line(2, "image present, verification policy %s (%s):", v.Policy, v.KubeletConfig)
	}
	if v.Policy == NeverVerifyAllowlistedImages {
		if v.AllowlistEntry != "" {
			tw.line(3, "allowlisted by %q", v.AllowlistEntry)
		} else {
			tw.line(3, "not in preloadedImagesVerificationAllowlist")
		}
	}
	tw.line(3, "a pod without credentials of its own:")
	tw.line(4, "pre-pulled (not by the kubelet): %s", outcomeText(v.Preloaded, creds))
	tw.line(4, "pulled by the kubelet with node credentials or anonymously: %s", outcomeText(v.PulledByKubeletForNode, creds))
	tw.line(4, "pulled by the kubelet only with other pods' Secrets: %s", outcomeText(v.PulledByKubeletWithSecret, creds))
}

func (p *ProviderReport) writeText(tw *textWriter, image string) {
	if !p.Matched {
		tw.line(1, "provider %s: not used, no matchImages entry matches", p.Name)
		// A long matchImages list (ECR has one pattern per partition and form) would bury the
		// interesting lines: patterns with the image's label count fail for a reason worth
		// reading (port, path, one label); the others are counted. -o json lists every one.
		near, far := p.MatchImages, 0
		if len(p.MatchImages) > 3 {
			near = nil
			for _, m := range p.MatchImages {
				if labels(m.Pattern) != labels(image) {
					far++
				} else {
					near = append(near, m)
				}
			}
		}
		for _, m := range near {
			tw.line(2, "%q: %s: %s", m.Pattern, m.Reason, m.Detail)
		}
		if far > 0 {
			tw.line(2, "%d more pattern(s) have another number of host labels than the image (-o json lists each)", far)
		}
		return
	}
	var by []string
	for _, m := range p.MatchImages {
		if m.Match {
			by = append(by, fmt.Sprintf("%q", m.Pattern))
		}
	}
	tw.line(1, "provider %s (%s): matched by %s", p.Name, p.APIVersion, strings.Join(by, ", "))
	if p.Skipped != "" {
		tw.line(2, "skipped: %s", p.Skipped)
		return
	}
	if p.CachedFrom != nil {
		tw.line(2, "no exec: the kubelet reuses the answer cached under key %q by the exec for %s", p.CachedFrom.Key, p.CachedFrom.Image)
	}
	if e := p.Exec; e != nil {
		cmd := append([]string{e.Path}, e.Args...)
		env := ""
		if len(e.Env) > 0 {
			env = fmt.Sprintf(" with env %s", strings.Join(e.Env, ", "))
		}
		status := fmt.Sprintf("exit %d", e.ExitCode)
		if e.ExitCode < 0 {
			status = "no exit status"
		}
		tw.line(2, "exec %s%s: %s in %s, %d byte(s) on stdout", strings.Join(cmd, " "), env, status, roundDuration(e.Elapsed), e.StdoutBytes)
		if e.Hint != "" {
			tw.line(2, "hint: %s", e.Hint)
		}
		if s := strings.TrimRight(e.Stderr, "\n"); s != "" {
			tw.line(2, "stderr:")
			for _, l := range strings.Split(s, "\n") {
				tw.line(3, "| %s", l)
			}
		}
	}
	if a := p.Answer; a != nil {
		dur := "cacheDuration absent"
		if a.CacheDuration != "" {
			dur = "cacheDuration " + a.CacheDuration
		}
		tw.line(2, "answer: cacheKeyType %s, %s, %d auth entr%s", a.CacheKeyType, dur, len(a.Auth), plural(len(a.Auth), "y", "ies"))
		if a.CacheFor == "0s" {
			tw.line(2, "kubelet cache: not cached (%s is 0s), the next pull execs again", a.CacheForSource)
		} else {
			tw.line(2, "kubelet cache: key %q for %s (from %s)", a.CacheKey, a.CacheFor, a.CacheForSource)
		}
		if a.ServiceAccountKey != "" {
			tw.line(3, "the key also holds the %s", a.ServiceAccountKey)
		}
		for _, au := range a.Auth {
			match := "matches the image"
			if !au.MatchesImage {
				match = fmt.Sprintf("does not match the image: %s: %s", au.Reason, au.Detail)
			}
			tw.line(2, "auth %q: username %q, password %s; %s", au.Key, au.Username, au.Password, match)
		}
	}
	for _, w := range p.Warnings {
		tw.line(2, "warning: %s", w)
	}
	if p.Error != "" {
		tw.line(2, "error: %s", p.Error)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d
}

// textWriter indents lines and keeps the first write error.
type textWriter struct {
	w   io.Writer
	err error
}

func (t *textWriter) line(indent int, format string, args ...any) {
	if t.err != nil {
		return
	}
	_, t.err = fmt.Fprintf(t.w, "%s%s\n", strings.Repeat("  ", indent), fmt.Sprintf(format, args...))
}

// labels returns the number of host labels of a pattern or image, -1 when it does not parse.
func labels(s string) int {
	u, err := keyring.ParseSchemeless(s)
	if err != nil {
		return -1
	}
	host := u.Hostname()
	if host == "" {
		host = u.Host
	}
	return strings.Count(host, ".") + 1
}
