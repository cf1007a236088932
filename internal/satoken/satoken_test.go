package satoken

import (
	"encoding/base64"
	"strings"
	"testing"
)

func jwt(payload string) string {
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, token string
		wantOK      bool
		wantSub     string
		wantExp     string
	}{
		{name: "service account token", token: jwt(`{"iss":"https://k8s","sub":"system:serviceaccount:ns:sa","exp":1700000000,"kubernetes.io":{"namespace":"ns","serviceaccount":{"name":"sa","uid":"u1"}}}`), wantOK: true, wantSub: "system:serviceaccount:ns:sa", wantExp: "1700000000"},
		{name: "padded payload", token: "a." + base64.URLEncoding.EncodeToString([]byte(`{"sub":"x"}`)) + ".c", wantOK: true, wantSub: "x"},
		{name: "two parts", token: "a.b"},
		{name: "payload not base64url", token: "a.!!!.c"},
		{name: "payload not JSON", token: jwt("not json")},
		{name: "claim of the wrong type", token: jwt(`{"sub":7}`)},
		{name: "payload over 64 KiB", token: "a." + strings.Repeat("A", 64<<10+1) + ".c"},
		{name: "opaque", token: "opaque-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := Parse(tt.token)
			if ok != tt.wantOK || c.Subject != tt.wantSub || string(c.Expiry) != tt.wantExp {
				t.Errorf("Parse = %+v, %v; want subject %q, exp %q, ok %v", c, ok, tt.wantSub, tt.wantExp, tt.wantOK)
			}
		})
	}
}

func TestID(t *testing.T) {
	sa := func(uid, extra string) string {
		return jwt(`{"iss":"https://k8s","sub":"system:serviceaccount:ns:sa","aud":["sts"],"kubernetes.io":{"serviceaccount":{"uid":"` + uid + `"}}` + extra + `}`)
	}
	a1, a2 := sa("u1", `,"exp":1`), sa("u1", `,"exp":2`)
	if ID(a1) != ID(a2) {
		t.Errorf("ID differs for two tokens of one service account")
	}
	if ID(a1) == ID(sa("u2", "")) {
		t.Errorf("ID is equal for two service accounts")
	}
	if ID("opaque-1") == ID("opaque-2") || ID(jwt(`{}`)) == ID(jwt(`{"x":1}`)) {
		t.Errorf("ID is equal for two tokens without a subject")
	}
	if id := ID(a1); strings.Contains(a1, id) || strings.Contains(id, "sa") {
		t.Errorf("ID(%q) = %q, want an opaque hash", a1, id)
	}
}
