package keyring

import "testing"

func TestHTTPSHostName(t *testing.T) {
	tests := []struct {
		host, name string
		bad        bool
	}{
		{host: "123456789012.dkr.ecr.us-east-1.amazonaws.com", name: "123456789012.dkr.ecr.us-east-1.amazonaws.com"},
		{host: "MyReg.AzureCR.io:443", name: "myreg.azurecr.io"},
		{host: "myreg.azurecr.io:5000", bad: true},
		{host: "myreg.azurecr.io:", bad: true},
		{host: "myreg.azurecr.io:0443", bad: true},
		{host: "", bad: true},
		// The Kelvin sign lower-cases to "k" with strings.ToLower: refused, not folded.
		{host: "registry.\u212aube.io", bad: true},
		{host: "caf\u00e9.azurecr.io", bad: true},
		{host: string(make([]byte, maxHostLen+1)), bad: true},
	}
	for _, tt := range tests {
		name, why := HTTPSHostName(tt.host)
		if tt.bad != (why != "") || name != tt.name {
			t.Errorf("HTTPSHostName(%q) = %q, %q; want %q, refused %v", tt.host, name, why, tt.name, tt.bad)
		}
	}
}
