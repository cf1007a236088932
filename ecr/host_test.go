package ecr

import (
	"errors"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/providers/keyring"
)

// hostCases is the table of hosts: every partition, FIPS, dual-stack, public, and the
// lookalikes that must never get a token. want is nil for a host that is not ECR.
var hostCases = []struct {
	name string
	host string
	want *Registry
}{
	// aws
	{"aws us-east-1", "123456789012.dkr.ecr.us-east-1.amazonaws.com",
		&Registry{Account: "123456789012", Region: "us-east-1", Partition: "aws"}},
	{"aws eu-west-1", "210987654321.dkr.ecr.eu-west-1.amazonaws.com",
		&Registry{Account: "210987654321", Region: "eu-west-1", Partition: "aws"}},
	{"aws ap-southeast-7", "123456789012.dkr.ecr.ap-southeast-7.amazonaws.com",
		&Registry{Account: "123456789012", Region: "ap-southeast-7", Partition: "aws"}},
	{"aws mx-central-1", "123456789012.dkr.ecr.mx-central-1.amazonaws.com",
		&Registry{Account: "123456789012", Region: "mx-central-1", Partition: "aws"}},
	{"aws account with leading zeros", "000000000001.dkr.ecr.us-west-2.amazonaws.com",
		&Registry{Account: "000000000001", Region: "us-west-2", Partition: "aws"}},
	{"aws fips", "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
		&Registry{Account: "123456789012", Region: "us-east-1", Partition: "aws", FIPS: true}},
	{"aws dual-stack", "123456789012.dkr-ecr.us-east-1.on.aws",
		&Registry{Account: "123456789012", Region: "us-east-1", Partition: "aws", DualStack: true}},
	{"aws dual-stack fips", "123456789012.dkr-ecr-fips.us-east-2.on.aws",
		&Registry{Account: "123456789012", Region: "us-east-2", Partition: "aws", DualStack: true, FIPS: true}},
	{"aws upper case", "123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM",
		&Registry{Account: "123456789012", Region: "us-east-1", Partition: "aws"}},
	{"aws default https port", "123456789012.dkr.ecr.us-east-1.amazonaws.com:443",
		&Registry{Account: "123456789012", Region: "us-east-1", Partition: "aws"}},
	// aws-us-gov
	{"govcloud west", "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com",
		&Registry{Account: "123456789012", Region: "us-gov-west-1", Partition: "aws-us-gov"}},
	{"govcloud east fips", "123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com",
		&Registry{Account: "123456789012", Region: "us-gov-east-1", Partition: "aws-us-gov", FIPS: true}},
	{"govcloud dual-stack fips", "123456789012.dkr-ecr-fips.us-gov-west-1.on.aws",
		&Registry{Account: "123456789012", Region: "us-gov-west-1", Partition: "aws-us-gov", DualStack: true, FIPS: true}},
	// aws-cn
	{"china beijing", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
		&Registry{Account: "123456789012", Region: "cn-north-1", Partition: "aws-cn"}},
	{"china ningxia", "123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn",
		&Registry{Account: "123456789012", Region: "cn-northwest-1", Partition: "aws-cn"}},
	{"china dual-stack", "123456789012.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
		&Registry{Account: "123456789012", Region: "cn-north-1", Partition: "aws-cn", DualStack: true}},
	// aws-eusc
	{"european sovereign cloud", "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
		&Registry{Account: "123456789012", Region: "eusc-de-east-1", Partition: "aws-eusc"}},
	{"european sovereign cloud fips", "123456789012.dkr.ecr-fips.eusc-de-east-1.amazonaws.eu",
		&Registry{Account: "123456789012", Region: "eusc-de-east-1", Partition: "aws-eusc", FIPS: true}},
	// aws-iso, aws-iso-b, aws-iso-e, aws-iso-f
	{"iso c2s", "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
		&Registry{Account: "123456789012", Region: "us-iso-east-1", Partition: "aws-iso"}},
	{"iso c2s fips", "123456789012.dkr.ecr-fips.us-iso-west-1.c2s.ic.gov",
		&Registry{Account: "123456789012", Region: "us-iso-west-1", Partition: "aws-iso", FIPS: true}},
	{"iso-b sc2s", "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
		&Registry{Account: "123456789012", Region: "us-isob-east-1", Partition: "aws-iso-b"}},
	{"iso-e adc-e", "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
		&Registry{Account: "123456789012", Region: "eu-isoe-west-1", Partition: "aws-iso-e"}},
	{"iso-f hci", "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
		&Registry{Account: "123456789012", Region: "us-isof-south-1", Partition: "aws-iso-f"}},
	{"iso-f hci east", "123456789012.dkr.ecr.us-isof-east-1.csp.hci.ic.gov",
		&Registry{Account: "123456789012", Region: "us-isof-east-1", Partition: "aws-iso-f"}},
	// ECR Public
	{"public", "public.ecr.aws", &Registry{Public: true, Region: "us-east-1", Partition: "aws"}},
	{"public alias", "ecr-public.aws.com", &Registry{Public: true, Region: "us-east-1", Partition: "aws"}},
	{"public upper case", "Public.ECR.aws", &Registry{Public: true, Region: "us-east-1", Partition: "aws"}},

	// Lookalikes and near misses: no token, ever.
	{"lookalike suffix", "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io", nil},
	{"lookalike prefix", "evil.123456789012.dkr.ecr.us-east-1.amazonaws.com", nil},
	{"lookalike public suffix", "public.ecr.aws.evil.io", nil},
	{"lookalike public subdomain", "x.public.ecr.aws", nil},
	{"public with a port", "public.ecr.aws:5000", nil},
	{"11-digit account", "12345678901.dkr.ecr.us-east-1.amazonaws.com", nil},
	{"13-digit account", "1234567890123.dkr.ecr.us-east-1.amazonaws.com", nil},
	{"account with a letter", "12345678901a.dkr.ecr.us-east-1.amazonaws.com", nil},
	{"non-ascii digits", "１２３４５６７８９０１２.dkr.ecr.us-east-1.amazonaws.com", nil},
	{"kelvin sign for k", "123456789012.d\u212Ar.ecr.us-east-1.amazonaws.com", nil},
	{"kelvin sign in the suffix", "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.u\u212A", nil},
	{"region with underscore", "123456789012.dkr.ecr.us_east_1.amazonaws.com", nil},
	{"region with odd characters", "123456789012.dkr.ecr.us-east-1%2f.amazonaws.com", nil},
	{"region without number", "123456789012.dkr.ecr.us-east.amazonaws.com", nil},
	{"region of two parts", "123456789012.dkr.ecr.useast-1.amazonaws.com", nil},
	{"region with empty part", "123456789012.dkr.ecr.us--east-1.amazonaws.com", nil},
	{"region missing", "123456789012.dkr.ecr.amazonaws.com", nil},
	{"china region under amazonaws.com", "123456789012.dkr.ecr.cn-north-1.amazonaws.com", nil},
	{"aws region under amazonaws.com.cn", "123456789012.dkr.ecr.us-east-1.amazonaws.com.cn", nil},
	{"iso region under amazonaws.com", "123456789012.dkr.ecr.us-iso-east-1.amazonaws.com", nil},
	{"aws region under c2s", "123456789012.dkr.ecr.us-east-1.c2s.ic.gov", nil},
	{"dual-stack form under amazonaws.com", "123456789012.dkr-ecr.us-east-1.amazonaws.com", nil},
	{"dot form under on.aws", "123456789012.dkr.ecr.us-east-1.on.aws", nil},
	{"api endpoint, not a registry", "api.ecr.us-east-1.amazonaws.com", nil},
	{"missing dkr", "123456789012.ecr.us-east-1.amazonaws.com", nil},
	{"dkr.ecr.fips spelled with a dot", "123456789012.dkr.ecr.fips.us-east-1.amazonaws.com", nil},
	{"other port", "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000", nil},
	{"empty port", "123456789012.dkr.ecr.us-east-1.amazonaws.com:", nil},
	{"trailing dot", "123456789012.dkr.ecr.us-east-1.amazonaws.com.", nil},
	{"docker hub", "docker.io", nil},
	{"gcr", "gcr.io", nil},
	{"localhost", "localhost:5000", nil},
	{"ipv6 literal", "[::1]:443", nil},
	{"empty", "", nil},
}

func TestParseHost(t *testing.T) {
	if len(hostCases) < 40 {
		t.Fatalf("hostCases has %d cases, want at least 40", len(hostCases))
	}
	for _, tc := range hostCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHost(tc.host)
			if tc.want == nil {
				if err == nil || !errors.Is(err, ErrNotECR) {
					t.Fatalf("ParseHost(%q) = %+v, %v; want an error wrapping ErrNotECR", tc.host, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHost(%q) error: %v", tc.host, err)
			}
			want := *tc.want
			want.Host = tc.host
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParseHost(%q) mismatch (-want +got):\n%s", tc.host, diff)
			}
		})
	}
}

// TestMatchImagesCoverHosts checks the matchImages list documented for the kubelet config:
// every accepted host without a port matches a pattern (by the kubelet's rules), and a FIPS
// host needs its own pattern, as the kubelet matches labels one by one.
func TestMatchImagesCoverHosts(t *testing.T) {
	patterns := MatchImages()
	for _, tc := range hostCases {
		if tc.want == nil || strings.Contains(tc.host, ":") {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			image := strings.ToLower(tc.host) + "/team/app"
			var matched []string
			for _, p := range patterns {
				if ok, err := keyring.Match(p, image); err != nil {
					t.Fatalf("Match(%q, %q) error: %v", p, image, err)
				} else if ok {
					matched = append(matched, p)
				}
			}
			if len(matched) != 1 {
				t.Errorf("patterns matching %q = %q, want exactly one", image, matched)
			}
		})
	}
}

func TestParseHostErrorNamesTheHost(t *testing.T) {
	host := "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io"
	_, err := ParseHost(host)
	if err == nil || !strings.Contains(err.Error(), host) {
		t.Fatalf("ParseHost(%q) error = %v, want one naming the host", host, err)
	}
}

func FuzzParseHost(f *testing.F) {
	for _, tc := range hostCases {
		f.Add(tc.host)
	}
	f.Fuzz(func(t *testing.T, host string) {
		reg, err := ParseHost(host)
		if err != nil {
			if !errors.Is(err, ErrNotECR) {
				t.Fatalf("ParseHost(%q) error %v does not wrap ErrNotECR", host, err)
			}
			return
		}
		if reg.Host != host {
			t.Fatalf("ParseHost(%q).Host = %q, want the host as given", host, reg.Host)
		}
		for i := 0; i < len(host); i++ {
			if host[i] >= 0x80 {
				t.Fatalf("ParseHost(%q) accepted a non-ASCII host", host)
			}
		}
		name := strings.ToLower(strings.TrimSuffix(host, ":443"))
		if reg.Public {
			if name != PublicHost && name != PublicAliasHost {
				t.Fatalf("ParseHost(%q) is public", host)
			}
			return
		}
		// An accepted private host is rebuilt exactly from its parts: nothing else got through.
		form := map[[2]bool]string{{false, false}: "dkr.ecr", {true, false}: "dkr.ecr-fips",
			{false, true}: "dkr-ecr", {true, true}: "dkr-ecr-fips"}[[2]bool{reg.FIPS, reg.DualStack}]
		prefix := reg.Account + "." + form + "." + reg.Region + "."
		if !strings.HasPrefix(name, prefix) {
			t.Fatalf("ParseHost(%q) = %+v: host does not start with %q", host, reg, prefix)
		}
		found := false
		for _, s := range suffixes {
			if name == prefix+s.name && s.dualStack == reg.DualStack {
				found = true
			}
		}
		if !found || !isAccount(reg.Account) || !isRegion(reg.Region) || regionPartition(reg.Region) != reg.Partition {
			t.Fatalf("ParseHost(%q) = %+v, an invalid registry", host, reg)
		}
		// The kubelet's rules must agree: a documented pattern matches the host.
		matched := false
		for _, p := range MatchImages() {
			if ok, _ := keyring.Match(p, name+"/x"); ok {
				matched = true
			}
		}
		if !matched {
			t.Fatalf("no matchImages pattern matches accepted host %q", host)
		}
	})
}

// TestDocsListMatchImages keeps the kubelet config in docs/ecr.md in step with MatchImages.
func TestDocsListMatchImages(t *testing.T) {
	doc, err := os.ReadFile("../docs/ecr.md")
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	_, block, ok := strings.Cut(string(doc), "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok {
		t.Fatal("docs/ecr.md has no yaml block")
	}
	var got []string
	for _, line := range strings.Split(block, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), `- "`); ok {
			got = append(got, strings.TrimSuffix(v, `"`))
		}
	}
	want := MatchImages()
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("matchImages in docs/ecr.md (-MatchImages() +docs):\n%s", diff)
	}
}
