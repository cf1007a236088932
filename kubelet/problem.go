package kubelet

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Severity says whether a Problem stops the kubelet.
type Severity string

const (
	// SeverityError is a problem the kubelet refuses: it does not start (config, binaries) or
	// it discards a plugin's answer.
	SeverityError Severity = "error"
	// SeverityWarning is accepted by the kubelet but almost certainly not what was meant
	// (a matchImages entry that can never match, for example).
	SeverityWarning Severity = "warning"
)

// Problem is one finding about a config, a binary or a plugin's answer.
type Problem struct {
	Severity Severity `json:"severity"`
	// File is the config file (or directory) the problem is in, if any.
	File string `json:"file,omitempty"`
	// Field is the field path within File, e.g. providers[0].matchImages[2].
	Field string `json:"field,omitempty"`
	// Type is the kind of problem, in the kubelet's words: "Invalid value", "Required value",
	// "Duplicate value", "Unsupported value", "Forbidden", "Unknown field"…
	Type string `json:"type,omitempty"`
	// Detail explains the problem.
	Detail string `json:"detail"`
}

// String formats the problem as one line: "file: field: Type: detail".
func (p Problem) String() string {
	parts := make([]string, 0, 4)
	for _, part := range []string{p.File, p.Field, p.Type, p.Detail} {
		if part != "" {
			parts = append(parts, part)
		}
	}
	return strings.Join(parts, ": ")
}

// Problems is a list of problems.
type Problems []Problem

// Errors returns the problems of severity error.
func (ps Problems) Errors() Problems { return ps.filter(SeverityError) }

// Warnings returns the problems of severity warning.
func (ps Problems) Warnings() Problems { return ps.filter(SeverityWarning) }

func (ps Problems) filter(s Severity) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// ErrInvalidConfig is wrapped by Problems.Err.
var ErrInvalidConfig = errors.New("invalid credential provider config")

// Err returns nil when there is no problem of severity error, or an error that wraps
// ErrInvalidConfig and lists them.
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	lines := make([]string, len(errs))
	for i, p := range errs {
		lines[i] = p.String()
	}
	return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(lines, "; "))
}

func errorf(file, fieldPath, typ, format string, args ...any) Problem {
	return Problem{Severity: SeverityError, File: file, Field: fieldPath, Type: typ, Detail: fmt.Sprintf(format, args...)}
}

func warnf(file, fieldPath, typ, format string, args ...any) Problem {
	return Problem{Severity: SeverityWarning, File: file, Field: fieldPath, Type: typ, Detail: fmt.Sprintf(format, args...)}
}

// fromField converts one of apimachinery's field errors, keeping the kubelet's wording: the
// detail holds the bad value and the explanation, exactly as the kubelet prints them.
func fromField(file string, e *field.Error, sev Severity) Problem {
	body := e.ErrorBody()
	typ := e.Type.String()
	detail := strings.TrimPrefix(strings.TrimPrefix(body, typ), ": ")
	return Problem{Severity: sev, File: file, Field: e.Field, Type: typ, Detail: detail}
}
