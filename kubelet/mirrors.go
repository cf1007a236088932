package kubelet

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pullkeys/pullkeys/providers/keyring"
	"github.com/pullkeys/pullkeys/providers/mirror"
)

// Where containerd sends credentials (verified against containerd 1.6's CRI plugin,
// pkg/cri/server/image_pull.go, and remotes/docker/config/hosts.go): the kubelet hands each
// credential to the runtime in a CRI AuthConfig without a server address, and containerd's
// ParseAuth then gives it to every host it tries for the pull. With a hosts directory
// (config_path) containerd tries the [host."…"] sections of <dir>/<upstream>/hosts.toml in
// file order, then the server line, or the upstream itself when there is no server line (or
// the file does not parse). So a mirror's credential reaches the upstream unless the mirror
// is also the server. See docs/mirrors.md.

// providerMirrors are the mirror flags of one provider's config entry.
type providerMirrors struct {
	p    Provider
	opts mirror.Options
}

func mirrorsOf(cfg *Config) ([]providerMirrors, Problems) {
	var out []providerMirrors
	var problems Problems
	for _, p := range cfg.Providers {
		o, err := mirror.FlagsOf(p.Args)
		field := fmt.Sprintf("providers[%d].args", p.Index)
		if err != nil {
			problems = append(problems, Problem{Severity: SeverityError, File: p.File, Field: field, Type: "Invalid value",
				Detail: fmt.Sprintf("%s fails at start-up on every pull: %v", p.Name, err)})
			continue
		}
		if len(o.Mappings) == 0 && o.HostsDir == "" {
			continue
		}
		out = append(out, providerMirrors{p: p, opts: o})
		for _, m := range o.Mappings {
			if strings.ContainsAny(m.Upstream, "*?[") {
				continue
			}
			probe := m.Upstream + "/library/probe"
			if ok, _ := ExplainMatch(p.MatchImages, probe); !ok {
				problems = append(problems, Problem{Severity: SeverityWarning, File: p.File, Field: fmt.Sprintf("providers[%d].matchImages", p.Index),
					Detail: fmt.Sprintf("%s has --mirror %s but no matchImages entry matches %s: the kubelet never asks it about that upstream; add %q", p.Name, m, m.Upstream, m.Upstream)})
			}
		}
	}
	return out, problems
}

// MirrorProblems checks the mirrors of each provider (its --mirror, --containerd-hosts-dir
// and --mirror-allow-upstream-fallback args) against containerd's hosts directory hostsDir
// ("" means each provider's own --containerd-hosts-dir, and no check without one). Each
// hosts.toml that would send a mirror's credential to the upstream, or to any host but the
// mirror, is an error naming the file and the fix; a warning when the provider has
// --mirror-allow-upstream-fallback and the other host is the upstream.
func MirrorProblems(cfg *Config, hostsDir string) Problems {
	pms, problems := mirrorsOf(cfg)
	for _, pm := range pms {
		dir := hostsDir
		if dir == "" {
			dir = pm.opts.HostsDir
			if dir == "" {
				continue
			}
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				problems = append(problems, Problem{Severity: SeverityWarning, File: pm.p.File, Field: fmt.Sprintf("providers[%d].args", pm.p.Index),
					Detail: fmt.Sprintf("%s: --%s %s is not a directory here, so its hosts.toml files are not checked: run this on the node, or pass --%s", pm.p.Name, mirror.FlagHostsDir, dir, mirror.FlagHostsDir)})
				continue
			}
		}
		type target struct {
			upstream, mirror string
			source           string
		}
		var targets []target
		for _, m := range pm.opts.Mappings {
			if !strings.ContainsAny(m.Upstream, "*?[") {
				targets = append(targets, target{m.Upstream, m.Host, "--mirror " + m.String()})
			}
		}
		if pm.opts.HostsDir != "" {
			// Discovery: every upstream in the directory whose hosts.toml names a mirror.
			for _, up := range upstreamsIn(dir) {
				hs, err := mirror.LoadHosts(dir, up)
				if err != nil {
					continue
				}
				for _, h := range hs.Tried {
					if !h.IsUpstream {
						targets = append(targets, target{up, h.Host, "a mirror in " + hs.File})
						break
					}
				}
			}
		}
		seen := map[string]bool{}
		for _, t := range targets {
			if seen[t.upstream] {
				continue
			}
			seen[t.upstream] = true
			hs, err := mirror.LoadHosts(dir, t.upstream)
			if err != nil {
				problems = append(problems, Problem{Severity: SeverityError, File: dir, Detail: err.Error()})
				continue
			}
			file := hs.File
			if file == "" {
				file = filepath.Join(dir, t.upstream, "hosts.toml")
			}
			for _, h := range hs.Leaks(t.mirror) {
				sev := SeverityError
				what := "another host"
				if h.IsUpstream {
					what = "the upstream"
					if pm.opts.AllowUpstreamFallback {
						sev = SeverityWarning
					}
				}
				mh := mirrorHost(hs, t.mirror)
				problems = append(problems, Problem{Severity: sev, File: file, Type: "Credential leak",
					Detail: fmt.Sprintf("%s answers for %s with the credential of %s (%s), and %s, so %s %s receives it; fix: %s",
						pm.p.Name, t.upstream, t.mirror, t.source, hs.Describe(), what, h.Host, mirror.Fix(hs, mh))})
			}
		}
	}
	return problems
}

// mirrorHost returns the tried host of hs on host, or a plain https endpoint for it.
func mirrorHost(hs *mirror.Hosts, host string) mirror.Host {
	for _, h := range hs.Tried {
		if h.Host == host {
			return h
		}
	}
	return mirror.Host{URL: "https://" + host + "/v2", Host: host}
}

// upstreamsIn lists the upstream registries with a directory under a containerd hosts
// directory: "r.io_5000_" is "r.io:5000"; "_default" is left out.
func upstreamsIn(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || name == "_default" {
			continue
		}
		if strings.HasSuffix(name, "_") {
			if i := strings.LastIndex(name[:len(name)-1], "_"); i > 0 {
				name = name[:i] + ":" + name[i+1:len(name)-1]
			}
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// RuntimeReport is what containerd does with one pull, from its hosts directory.
type RuntimeReport struct {
	// HostsFile is the hosts.toml read, "" when none: containerd pulls from the upstream.
	HostsFile  string `json:"hostsFile,omitempty"`
	ParseError string `json:"parseError,omitempty"`
	// Hosts are the hosts containerd tries, in order.
	Hosts []RuntimeHost `json:"hosts"`
	// Problems are credentials that reach a host they are not meant for.
	Problems []string `json:"problems,omitempty"`
}

// RuntimeHost is one host containerd tries for a pull.
type RuntimeHost struct {
	URL        string `json:"url"`
	Fallback   bool   `json:"fallback,omitempty"`
	IsUpstream bool   `json:"isUpstream,omitempty"`
	// Image is the image pulled from this host.
	Image string `json:"image"`
	// Receives are the credentials (key, from provider) containerd sends this host: all of
	// those the kubelet handed over, since the kubelet names no server for them.
	Receives []string `json:"receives"`
	// Needs says which credential the host needs: one for Image.
	Needs string `json:"needs"`
	// MirroredBy names the providers whose mirror this host is, for this upstream.
	MirroredBy []string `json:"mirroredBy,omitempty"`
}

// runtimeReport builds the report of containerd's side for a normalised image and the
// credentials the kubelet hands over.
func runtimeReport(cfg *Config, dir, image string, creds []CredentialReport) *RuntimeReport {
	upstream := keyring.Registry(image)
	hs, err := mirror.LoadHosts(dir, upstream)
	if err != nil {
		return &RuntimeReport{Problems: []string{err.Error()}, Hosts: []RuntimeHost{}}
	}
	pms, _ := mirrorsOf(cfg)
	// The mirror each provider answers this upstream for.
	mirrorOf := map[string]string{}
	for _, pm := range pms {
		if m, ok := mirror.Find(pm.opts.Mappings, image); ok {
			mirrorOf[pm.p.Name] = m.Host
			continue
		}
		if pm.opts.HostsDir != "" {
			for _, h := range hs.Tried {
				if !h.IsUpstream {
					mirrorOf[pm.p.Name] = h.Host
					break
				}
			}
		}
	}
	rr := &RuntimeReport{HostsFile: hs.File, ParseError: hs.ParseError, Hosts: []RuntimeHost{}}
	for _, h := range hs.Tried {
		rh := RuntimeHost{URL: h.URL, Fallback: h.Fallback, IsUpstream: h.IsUpstream, Image: h.Image(image), Receives: []string{}}
		rh.Needs = "a credential for " + rh.Image
		if h.IsUpstream {
			rh.Image = image
			rh.Needs = "the upstream's own credential for " + image + ", or none for a public image"
		}
		for name, mh := range mirrorOf {
			if mh == h.Host {
				rh.MirroredBy = append(rh.MirroredBy, name)
			}
		}
		sort.Strings(rh.MirroredBy)
		for _, c := range creds {
			rh.Receives = append(rh.Receives, fmt.Sprintf("%s (from %s)", c.Key, c.Provider))
			if mh, ok := mirrorOf[c.Provider]; ok && mh != h.Host {
				what := "another host"
				if h.IsUpstream {
					what = "the upstream"
				}
				rr.Problems = append(rr.Problems, fmt.Sprintf("%s's credential for the mirror %s reaches %s %s; fix: %s",
					c.Provider, mh, what, h.Host, mirror.Fix(hs, mirrorHost(hs, mh))))
			}
		}
		rr.Hosts = append(rr.Hosts, rh)
	}
	return rr
}

func (rr *RuntimeReport) writeText(tw *textWriter) {
	where := "no hosts.toml"
	if rr.HostsFile != "" {
		where = rr.HostsFile
	}
	tw.line(1, "containerd (%s) tries, in order, each receiving every credential above:", where)
	if rr.ParseError != "" {
		tw.line(2, "(containerd does not parse the file: %s)", rr.ParseError)
	}
	for i, h := range rr.Hosts {
		role := "mirror"
		switch {
		case h.IsUpstream:
			role = "upstream"
		case h.Fallback:
			role = "server"
		}
		by := ""
		if len(h.MirroredBy) > 0 {
			by = ", mirror of " + strings.Join(h.MirroredBy, ", ")
		}
		tw.line(2, "%d. %s (%s%s): pulls %s; needs %s", i+1, h.URL, role, by, h.Image, h.Needs)
		if len(h.Receives) > 0 {
			tw.line(3, "receives: %s", strings.Join(h.Receives, "; "))
		}
	}
	for _, p := range rr.Problems {
		tw.line(2, "problem: %s", p)
	}
}
