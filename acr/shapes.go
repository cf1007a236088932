package acr

import "strings"

// The shapes of identifiers, checked by hand rather than with regular expressions: a plugin
// compiles its package-level expressions on every start, before every pull.

// isGUID reports whether s is a GUID (8-4-4-4-12 hex digits), the shape of client and tenant
// IDs.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isTenant reports whether s names a tenant: a GUID, or a domain name (letters, digits, "."
// and "-", starting with a letter or digit, at most 253 characters).
func isTenant(s string) bool {
	if isGUID(s) {
		return true
	}
	if s == "" || len(s) > 253 || !isAlnum(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// isResourceID reports whether s is the resource ID of a user-assigned identity:
// /subscriptions/<s>/resourceGroups/<g>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>,
// the literal segments in any case.
func isResourceID(s string) bool {
	parts := strings.Split(s, "/")
	if len(parts) != 9 || parts[0] != "" {
		return false
	}
	for i, want := range []string{"", "subscriptions", "", "resourcegroups", "", "providers", "microsoft.managedidentity", "userassignedidentities", ""} {
		if want == "" {
			if i > 0 && parts[i] == "" {
				return false
			}
			continue
		}
		if !strings.EqualFold(parts[i], want) {
			return false
		}
	}
	return true
}

// safeCode returns code when it is shaped like an error code (1 to 64 letters and
// underscores), else "": codes are enumerations, while the rest of an error body may echo the
// request.
func safeCode(code string) string {
	if code == "" || len(code) > 64 {
		return ""
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_') {
			return ""
		}
	}
	return code
}
