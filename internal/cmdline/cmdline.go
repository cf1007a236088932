// Package cmdline is the one flag front-end of every pullkeys binary: the credential provider
// plugins, pullkeys and its subcommands, and the installer. It keeps them alike: flags and
// positional arguments in any order ("--" ends the flags), -h/--help on stdout with exit 0,
// nothing printed by the flag package itself, and failures as one line "<name>: <reason>" on
// stderr, the form the kubelet copies into its log.
package cmdline

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// ErrUsage marks a bad command line: a caller exits with its usage status (2 for pullkeys).
var ErrUsage = errors.New("usage")

// NewFlagSet returns a flag set that prints nothing itself: Parse reports errors.
func NewFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// Parse parses args into fs, flags and positional arguments interleaved (as the peers' cobra
// command lines allow: `get-credentials --v=3`), and returns the positional arguments.
// With -h or --help it writes help(stdout) and returns flag.ErrHelp. A flag error wraps
// ErrUsage ("usage: <the flag package's message>"); the caller says where to find help.
func Parse(fs *flag.FlagSet, args []string, stdout io.Writer, help func(io.Writer)) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				help(stdout)
				return nil, flag.ErrHelp
			}
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		// fs.Parse stops at the first positional argument, or after "--".
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// PrintDefaults writes fs's flags and their defaults to w.
func PrintDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// Fail writes err as the one line "<name>: <reason>" on stderr, without ErrUsage's prefix.
func Fail(stderr io.Writer, name string, err error) {
	fmt.Fprintf(stderr, "%s: %s\n", name, OneLine(Reason(err)))
}

// Reason is err's message without ErrUsage's "usage: " prefix.
func Reason(err error) string {
	msg := err.Error()
	if errors.Is(err, ErrUsage) {
		msg = strings.TrimPrefix(msg, ErrUsage.Error()+": ")
	}
	return msg
}

// OneLine folds a message onto one line, for the kubelet's log.
func OneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// StringList is a repeatable string flag; an empty value is an error.
type StringList []string

func (l *StringList) String() string { return strings.Join(*l, ",") }

// Set appends v.
func (l *StringList) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*l = append(*l, v)
	return nil
}
