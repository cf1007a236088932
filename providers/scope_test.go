package providers

import (
	"errors"
	"testing"
)

func TestCheckWildcardScope(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		wantErr bool
	}{
		{name: "no wildcard", pattern: "registry.example.co.uk"},
		{name: "no wildcard on a public suffix", pattern: "github.io"},
		{name: "wildcard under a registrable domain", pattern: "*.example.com"},
		{name: "wildcard under a registrable domain of co.uk", pattern: "*.example.co.uk"},
		{name: "wildcard under a github.io project", pattern: "*.someone.github.io"},
		{name: "wildcard under an unlisted private domain", pattern: "*.registry.corp.internal"},
		{name: "wildcard left of a literal label", pattern: "*.mirror.example.com:5000/team"},
		{name: "wildcard over com", pattern: "*.com", wantErr: true},
		{name: "wildcard over co.uk", pattern: "*.co.uk", wantErr: true},
		{name: "upper case", pattern: "*.CO.UK", wantErr: true},
		{name: "wildcard over github.io", pattern: "*.github.io", wantErr: true},
		{name: "wildcard over appspot.com with a port and path", pattern: "*.appspot.com:443/x", wantErr: true},
		{name: "partial wildcard", pattern: "mirror-*.co.uk", wantErr: true},
		{name: "question mark", pattern: "mirror?.co.uk", wantErr: true},
		{name: "character class", pattern: "mirror[0-9].co.uk", wantErr: true},
		{name: "wildcard deeper over co.uk", pattern: "eu.*.co.uk", wantErr: true},
		{name: "wildcard over an unlisted top-level domain", pattern: "*.internal", wantErr: true},
		{name: "wildcard top-level domain", pattern: "example.*", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckWildcardScope(tt.pattern)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CheckWildcardScope(%q) = %v, want error %v", tt.pattern, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrWildcardTooWide) {
				t.Errorf("CheckWildcardScope(%q) = %v, want an error wrapping ErrWildcardTooWide", tt.pattern, err)
			}
		})
	}
}
