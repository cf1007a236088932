package ecr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pullkeys/pullkeys/providers/keyring"
)

// ErrNotECR is returned (wrapped) for a registry host that is not an ECR registry. No
// credentials are ever returned for such a host.
var ErrNotECR = errors.New("not an ECR registry")

// Hosts of ECR Public. Both are served by one token from ecr-public in us-east-1.
const (
	PublicHost      = "public.ecr.aws"
	PublicAliasHost = "ecr-public.aws.com"
	// PublicRegion is the only region of the ECR Public API.
	PublicRegion = "us-east-1"
)

// Registry is an ECR registry host taken apart by ParseHost.
type Registry struct {
	// Host is the registry host exactly as given (with its port, if any): the key of the auth
	// map returned to the kubelet.
	Host string
	// Public is true for ECR Public (public.ecr.aws, ecr-public.aws.com). Account is then
	// empty, Region is PublicRegion and Partition is "aws".
	Public bool
	// Account is the 12-digit registry (account) ID.
	Account string
	// Region is the registry's region, lower case.
	Region string
	// Partition is the AWS partition of the host's DNS suffix: aws, aws-us-gov, aws-cn,
	// aws-eusc, aws-iso, aws-iso-b, aws-iso-e or aws-iso-f.
	Partition string
	// FIPS is true for the dkr.ecr-fips and dkr-ecr-fips forms: the API is then called on its
	// FIPS endpoint.
	FIPS bool
	// DualStack is true for the dkr-ecr and dkr-ecr-fips forms (on.aws,
	// on.amazonwebservices.com.cn): the API is then called on its dual-stack endpoint.
	DualStack bool
}

// suffix is a DNS suffix under which ECR registries live.
type suffix struct {
	name       string
	dualStack  bool     // the dkr-ecr forms; false: the dkr.ecr forms
	partitions []string // the partitions whose regions may appear under it
}

// suffixes lists every DNS suffix of an ECR private registry host, by partition.
var suffixes = [...]suffix{
	{"amazonaws.com", false, []string{"aws", "aws-us-gov"}},
	{"amazonaws.com.cn", false, []string{"aws-cn"}},
	{"amazonaws.eu", false, []string{"aws-eusc"}},
	{"c2s.ic.gov", false, []string{"aws-iso"}},
	{"sc2s.sgov.gov", false, []string{"aws-iso-b"}},
	{"cloud.adc-e.uk", false, []string{"aws-iso-e"}},
	{"csp.hci.ic.gov", false, []string{"aws-iso-f"}},
	{"on.aws", true, []string{"aws", "aws-us-gov"}},
	{"on.amazonwebservices.com.cn", true, []string{"aws-cn"}},
}

// regionPartition returns the partition of a region the way the SDK's endpoint rules see it:
// by prefix, and "aws" for anything else.
func regionPartition(region string) string {
	for _, p := range [...]struct{ prefix, id string }{
		{"cn-", "aws-cn"},
		{"eusc-", "aws-eusc"},
		{"us-gov-", "aws-us-gov"},
		{"us-isob-", "aws-iso-b"},
		{"us-isof-", "aws-iso-f"},
		{"us-iso-", "aws-iso"},
		{"eu-isoe-", "aws-iso-e"},
	} {
		if strings.HasPrefix(region, p.prefix) {
			return p.id
		}
	}
	return "aws"
}

// MatchImages returns the matchImages patterns of the kubelet's CredentialProviderConfig that
// cover every host ParseHost accepts without a port: each private form in each partition,
// FIPS and dual-stack, and ECR Public.
func MatchImages() []string {
	var out []string
	for _, s := range suffixes {
		forms := []string{"dkr.ecr", "dkr.ecr-fips"}
		if s.dualStack {
			forms = []string{"dkr-ecr", "dkr-ecr-fips"}
		}
		for _, f := range forms {
			out = append(out, "*."+f+".*."+s.name)
		}
	}
	return append(out, PublicHost, PublicAliasHost)
}

// ParseHost parses a registry host (as the kubelet keys registries: host with optional port)
// as an ECR registry. Accepted, case-insensitively and on the default HTTPS port only:
//
//	<account>.dkr.ecr.<region>.<suffix>         suffix: amazonaws.com, amazonaws.com.cn,
//	<account>.dkr.ecr-fips.<region>.<suffix>            amazonaws.eu, c2s.ic.gov, sc2s.sgov.gov,
//	                                                    cloud.adc-e.uk, csp.hci.ic.gov
//	<account>.dkr-ecr.<region>.<dual-stack>     dual-stack: on.aws, on.amazonwebservices.com.cn
//	<account>.dkr-ecr-fips.<region>.<dual-stack>
//	public.ecr.aws, ecr-public.aws.com
//
// where account is exactly 12 digits and region is lower-case words joined by "-" ending in a
// number (us-east-1, us-gov-west-1, eusc-de-east-1) whose partition matches the suffix's: a
// cn- region only under the China suffixes, a us-iso- region only under c2s.ic.gov, and so
// on. Anything else, including lookalikes such as
// 123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io, is an error wrapping ErrNotECR.
func ParseHost(host string) (Registry, error) {
	reg, why := parseHost(host)
	if why != "" {
		if len(host) > 100 {
			host = host[:100] + "…"
		}
		return Registry{}, fmt.Errorf("%q is %w: %s", host, ErrNotECR, why)
	}
	return reg, nil
}

func parseHost(host string) (Registry, string) {
	name, why := keyring.HTTPSHostName(host)
	if why != "" {
		return Registry{}, why
	}
	if name == PublicHost || name == PublicAliasHost {
		return Registry{Host: host, Public: true, Region: PublicRegion, Partition: "aws"}, ""
	}

	account, rest, _ := strings.Cut(name, ".")
	if !isAccount(account) {
		return Registry{}, "the first label is not a 12-digit account ID (want <account>.dkr.ecr.<region>.amazonaws.com or public.ecr.aws)"
	}
	reg := Registry{Host: host, Account: account}
	switch {
	case strings.HasPrefix(rest, "dkr.ecr."):
		rest = rest[len("dkr.ecr."):]
	case strings.HasPrefix(rest, "dkr.ecr-fips."):
		rest, reg.FIPS = rest[len("dkr.ecr-fips."):], true
	case strings.HasPrefix(rest, "dkr-ecr."):
		rest, reg.DualStack = rest[len("dkr-ecr."):], true
	case strings.HasPrefix(rest, "dkr-ecr-fips."):
		rest, reg.DualStack, reg.FIPS = rest[len("dkr-ecr-fips."):], true, true
	default:
		return Registry{}, "the account is not followed by dkr.ecr, dkr.ecr-fips, dkr-ecr or dkr-ecr-fips"
	}
	region, dns, _ := strings.Cut(rest, ".")
	if !isRegion(region) {
		return Registry{}, "the region label is not a region name such as us-east-1"
	}
	reg.Region = region
	partition := regionPartition(region)
	for _, s := range suffixes {
		if s.name != dns {
			continue
		}
		if s.dualStack != reg.DualStack {
			if s.dualStack {
				return Registry{}, "dual-stack domains (" + dns + ") serve the dkr-ecr and dkr-ecr-fips forms only"
			}
			return Registry{}, "the dkr-ecr and dkr-ecr-fips forms are served on dual-stack domains (on.aws, on.amazonwebservices.com.cn) only"
		}
		for _, p := range s.partitions {
			if p == partition {
				reg.Partition = p
				return reg, ""
			}
		}
		return Registry{}, "region " + region + " (partition " + partition + ") is not served under " + dns
	}
	return Registry{}, "the domain after the region is not an ECR domain of any AWS partition"
}

// isAccount reports whether s is exactly 12 ASCII digits.
func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isRegion reports whether s has the shape of an AWS region name: at least three "-"-joined
// parts, lower-case letters in all but the last, digits in the last (us-east-1,
// us-gov-west-1, eusc-de-east-1).
func isRegion(s string) bool {
	if len(s) < 5 || len(s) > 32 {
		return false
	}
	parts := strings.Split(s, "-")
	if len(parts) < 3 {
		return false
	}
	for i, p := range parts {
		if p == "" {
			return false
		}
		last := i == len(parts)-1
		for j := 0; j < len(p); j++ {
			c := p[j]
			if last && (c < '0' || c > '9') || !last && (c < 'a' || c > 'z') {
				return false
			}
		}
	}
	return true
}
