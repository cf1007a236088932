package kubelet

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteTextSummarisesLongMatchImages(t *testing.T) {
	patterns := []string{"*.dkr.ecr.*.amazonaws.com", "*.dkr.ecr-fips.*.amazonaws.com", "*.dkr.ecr.*.amazonaws.com.cn", "public.ecr.aws", "ecr-public.aws.com"}
	tests := []struct {
		name      string
		image     string
		patterns  []string
		wantLines []string
		notLines  []string
	}{
		{
			name:      "only label-count misses are counted",
			image:     "gcr.io/p/app",
			patterns:  patterns,
			wantLines: []string{"5 more pattern(s) have another number of host labels"},
			notLines:  []string{`"public.ecr.aws"`},
		},
		{
			name:      "a near miss is shown, the rest counted",
			image:     "public.ecr.aws:5000/app",
			patterns:  patterns,
			wantLines: []string{`"public.ecr.aws": port`, `"ecr-public.aws.com": port`, "3 more pattern(s)"},
		},
		{
			name:      "short lists are shown whole",
			image:     "gcr.io/p/app",
			patterns:  patterns[:3],
			wantLines: []string{`"*.dkr.ecr.*.amazonaws.com": label count`},
			notLines:  []string{"more pattern(s)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			matched, results := ExplainMatch(tt.patterns, tt.image)
			if matched {
				t.Fatalf("ExplainMatch(%v, %q) matched", tt.patterns, tt.image)
			}
			r := &Report{Images: []ImageReport{{Image: tt.image, Normalized: tt.image, Status: StatusNoCredentials, Providers: []ProviderReport{{Name: "ecr-credential-provider", MatchImages: results}}}}}
			var buf bytes.Buffer
			if err := r.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.wantLines {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("WriteText() =\n%s\nwant a line with %q", buf.String(), want)
				}
			}
			for _, not := range tt.notLines {
				if strings.Contains(buf.String(), not) {
					t.Errorf("WriteText() =\n%s\nwant no %q", buf.String(), not)
				}
			}
		})
	}
}
