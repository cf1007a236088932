package mirror

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// DockerHubServer is the host containerd pulls docker.io images from when no hosts.toml
// names a server.
const DockerHubServer = "registry-1.docker.io"

// Hosts is what containerd does for one upstream registry, from its hosts directory
// (config_path, e.g. /etc/containerd/certs.d): the hosts it tries for a pull, in order.
// Every host tried receives the credentials the kubelet handed over with the pull: the
// kubelet sets no server address on the CRI AuthConfig, so containerd's ParseAuth gives them
// to any host.
type Hosts struct {
	// Upstream is the registry host of the image (docker.io, registry.k8s.io, r.io:5000).
	Upstream string `json:"upstream"`
	// File is the hosts.toml read, "" when there is none: containerd pulls from the upstream.
	File string `json:"file,omitempty"`
	// ParseError is set when containerd would not parse the file (it logs the error and pulls
	// from the upstream).
	ParseError string `json:"parseError,omitempty"`
	// Tried are the hosts tried for a pull, in order.
	Tried []Host `json:"tried"`
}

// Host is one endpoint containerd may pull from.
type Host struct {
	// URL is the endpoint's API root (https://mirror.example.com/v2).
	URL string `json:"url"`
	// Host is the endpoint's host, with its port if the URL has one.
	Host string `json:"host"`
	// Path is the repository prefix the endpoint puts before the upstream's repository names:
	// "docker-hub" for https://<ecr>/v2/docker-hub with override_path; "" for none.
	Path string `json:"path,omitempty"`
	// Capabilities are the operations containerd uses it for (pull, resolve).
	Capabilities []string `json:"capabilities"`
	// Fallback is set for the last host: the server line, or the upstream when there is none.
	Fallback bool `json:"fallback,omitempty"`
	// IsUpstream is set when the host is the upstream registry itself.
	IsUpstream bool `json:"isUpstream,omitempty"`
}

// Image is the image pulled from this host for a normalised image on the upstream.
func (h Host) Image(image string) string {
	_, repo, _ := strings.Cut(image, "/")
	if h.Path == "" {
		return h.Host + "/" + repo
	}
	return h.Host + "/" + h.Path + "/" + repo
}

// IsUpstreamHost reports whether host is the upstream registry itself: the same host, or for
// docker.io one of the hosts Docker Hub answers on.
func IsUpstreamHost(upstream, host string) bool {
	if host == upstream {
		return true
	}
	if upstream == "docker.io" {
		return host == DockerHubServer || host == "index.docker.io"
	}
	return false
}

// hostDirs are the directories containerd looks in for upstream, first found wins:
// "<host>_<port>_" for a host with a port, "<host>" (with the port), then "_default"
// (read by containerd 1.7 and later).
func hostDirs(root, upstream string) []string {
	var dirs []string
	if i := strings.LastIndex(upstream, ":"); i > 0 {
		dirs = append(dirs, filepath.Join(root, upstream[:i]+"_"+upstream[i+1:]+"_"))
	}
	return append(dirs, filepath.Join(root, upstream), filepath.Join(root, "_default"))
}

// LoadHosts reads containerd's hosts directory root for upstream, as containerd 1.6 and 1.7
// (remotes/docker/config) do, and returns the hosts tried for a pull. A missing directory or
// file means the upstream alone; an error is returned only when a file exists and cannot be
// read.
func LoadHosts(root, upstream string) (*Hosts, error) {
	hs := &Hosts{Upstream: upstream}
	for _, dir := range hostDirs(root, upstream) {
		if _, err := os.Stat(dir); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("containerd hosts directory: %w", err)
		}
		file := filepath.Join(dir, "hosts.toml")
		b, err := os.ReadFile(file)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("containerd hosts directory: %w", err)
		}
		if len(b) > 0 {
			hs.File = file
			tried, err := ParseHostsFile(upstream, b)
			if err != nil {
				hs.ParseError = err.Error()
			} else {
				hs.Tried = tried
			}
		}
		break // containerd stops at the first directory that exists
	}
	if hs.Tried == nil {
		hs.Tried = []Host{upstreamHost(upstream)}
	}
	return hs, nil
}

// upstreamHost is containerd's default endpoint for upstream.
func upstreamHost(upstream string) Host {
	host := upstream
	if upstream == "docker.io" {
		host = DockerHubServer
	}
	return Host{URL: "https://" + host + "/v2", Host: host, Capabilities: []string{"pull", "resolve"}, Fallback: true, IsUpstream: true}
}

type hostSection struct {
	Capabilities []string `toml:"capabilities"`
	OverridePath bool     `toml:"override_path"`
}

// ParseHostsFile reads a hosts.toml for upstream and returns the hosts containerd tries for a
// pull, in order: the [host."…"] sections in file order, then the server line, or the
// upstream itself when there is no server line. Hosts whose capabilities hold neither pull
// nor resolve are left out (containerd uses them only to push). The errors are those that make
// containerd give up on the file and pull from the upstream: a TOML syntax error, no [host]
// section at all (containerd 1.6 and 1.7 fail on "invalid `host` tree"), an unknown
// capability, a URL that does not parse.
func ParseHostsFile(upstream string, b []byte) ([]Host, error) {
	var doc struct {
		hostSection
		Server string                 `toml:"server"`
		Host   map[string]hostSection `toml:"host"`
	}
	if err := toml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse TOML: %w", err)
	}
	if doc.Host == nil {
		return nil, errors.New("no [host] section: containerd fails with \"invalid `host` tree\" and pulls from the upstream")
	}
	order, err := hostOrder(b, doc.Host)
	if err != nil {
		return nil, fmt.Errorf("parse TOML: %w", err)
	}
	var tried []Host
	for _, name := range order {
		h, err := parseEndpoint(upstream, name, doc.Host[name])
		if err != nil {
			return nil, err
		}
		if h != nil {
			tried = append(tried, *h)
		}
	}
	var last *Host
	if doc.Server != "" {
		if last, err = parseEndpoint(upstream, doc.Server, doc.hostSection); err != nil {
			return nil, err
		}
	} else {
		u := upstreamHost(upstream)
		u.Capabilities, err = capabilities(doc.Capabilities)
		if err != nil {
			return nil, err
		}
		if len(u.Capabilities) > 0 {
			last = &u
		}
	}
	if last != nil {
		last.Fallback = true
		tried = append(tried, *last)
	}
	return tried, nil
}

// hostOrder returns the names of the [host."…"] sections in the order they appear in the
// file, as containerd sorts them (by line). A TOML table decodes into a map, so the order
// comes from go-toml's parser, walking the document's expressions.
func hostOrder(b []byte, hosts map[string]hostSection) ([]string, error) {
	var order []string
	seen := map[string]bool{}
	add := func(name string) {
		if _, ok := hosts[name]; ok && !seen[name] {
			seen[name] = true
			order = append(order, name)
		}
	}
	var p unstable.Parser
	p.Reset(b)
	inRoot := true
	for p.NextExpression() {
		e := p.Expression()
		var key []string
		for it := e.Key(); it.Next(); {
			key = append(key, string(it.Node().Data))
		}
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			inRoot = false
			if len(key) >= 2 && key[0] == "host" {
				add(key[1])
			}
		case unstable.KeyValue:
			// host."https://m".capabilities = […] before any table header
			if inRoot && len(key) >= 3 && key[0] == "host" {
				add(key[1])
			}
		}
	}
	if err := p.Error(); err != nil {
		return nil, err
	}
	// Hosts written in ways not walked above (an inline table): after those, by name.
	var rest []string
	for name := range hosts {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(order, rest...), nil
}

func capabilities(cs []string) ([]string, error) {
	if len(cs) == 0 {
		return []string{"pull", "resolve"}, nil
	}
	var out []string
	for _, c := range cs {
		switch strings.ToLower(c) {
		case "pull", "resolve":
			out = append(out, strings.ToLower(c))
		case "push":
		default:
			return nil, fmt.Errorf("unknown capability %q", c)
		}
	}
	sort.Strings(out)
	return out, nil
}

// parseEndpoint reads one endpoint as containerd does: no scheme means https; the API root
// is the URL's path with /v2 added unless it ends in /v2 or override_path is set. It returns
// nil for an endpoint not used for pulls.
func parseEndpoint(upstream, raw string, sec hostSection) (*Host, error) {
	caps, err := capabilities(sec.Capabilities)
	if err != nil {
		return nil, err
	}
	s := raw
	if !strings.HasPrefix(s, "http") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("unable to parse server %q", raw)
	}
	p := u.Path
	if p != "" {
		p = path.Clean(p)
		if !strings.HasSuffix(p, "/v2") && !sec.OverridePath {
			p += "/v2"
		}
	} else if !sec.OverridePath {
		p = "/v2"
	}
	if len(caps) == 0 {
		return nil, nil
	}
	h := &Host{URL: u.Scheme + "://" + u.Host + p, Host: u.Host, Capabilities: caps, IsUpstream: IsUpstreamHost(upstream, u.Host)}
	// The repository prefix: what follows /v2/ in the API root ("/v2/docker-hub" with
	// override_path). Without /v2/ the path only moves the API root, and the mirror serves
	// the upstream's repository names unchanged.
	if i := strings.Index(p, "/v2/"); i >= 0 {
		h.Path = strings.Trim(p[i+len("/v2/"):], "/")
	}
	return h, nil
}

// Leak is a host that receives a mirror's credential although it is not that mirror.
type Leak struct {
	Host Host `json:"host"`
}

// Leaks returns the hosts tried for upstream that are not the mirror mirrorHost: each one
// receives the credential the kubelet handed containerd for the pull.
func (hs *Hosts) Leaks(mirrorHost string) []Host {
	var out []Host
	for _, h := range hs.Tried {
		if h.Host != mirrorHost {
			out = append(out, h)
		}
	}
	return out
}

// Describe says in one line where containerd sends a pull for the upstream.
func (hs *Hosts) Describe() string {
	urls := make([]string, len(hs.Tried))
	for i, h := range hs.Tried {
		urls[i] = h.URL
	}
	where := "no hosts.toml"
	if hs.File != "" {
		where = hs.File
	}
	if hs.ParseError != "" {
		where += " (not parsed by containerd: " + hs.ParseError + ")"
	}
	return fmt.Sprintf("%s: containerd tries %s", where, strings.Join(urls, ", then "))
}

// Fix is the change to the hosts.toml that keeps the credential for mirror.
func Fix(hs *Hosts, mirror Host) string {
	file := hs.File
	if file == "" || hs.ParseError != "" {
		return fmt.Sprintf("write a hosts.toml for %s with server = %q and a [host.%q] section, and no other host", hs.Upstream, mirror.URL, mirror.URL)
	}
	return fmt.Sprintf("in %s set server = %q (so the mirror is also the fallback, never the upstream) and remove the other [host] sections", file, mirror.URL)
}
