package cmdline

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantPos  []string
		wantV    int
		wantList []string
		wantErr  error
		wantHelp bool
	}{
		{name: "flags only", args: []string{"-v=2", "--list=a"}, wantV: 2, wantList: []string{"a"}},
		{name: "flags after a positional argument", args: []string{"get-credentials", "--v=3"}, wantPos: []string{"get-credentials"}, wantV: 3},
		{name: "interleaved", args: []string{"a", "--list", "x", "b", "-list=y", "c"}, wantPos: []string{"a", "b", "c"}, wantList: []string{"x", "y"}},
		{name: "-- ends the flags", args: []string{"a", "--", "-v=9", "b"}, wantPos: []string{"a", "-v=9", "b"}},
		{name: "-- first", args: []string{"--", "-v"}, wantPos: []string{"-v"}},
		{name: "unknown flag", args: []string{"a", "--nope"}, wantErr: ErrUsage},
		{name: "bad value", args: []string{"-v=x"}, wantErr: ErrUsage},
		{name: "empty list value", args: []string{"--list="}, wantErr: ErrUsage},
		{name: "help after an argument", args: []string{"a", "--help"}, wantErr: flag.ErrHelp, wantHelp: true},
		{name: "-h", args: []string{"-h"}, wantErr: flag.ErrHelp, wantHelp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := NewFlagSet("test")
			v := fs.Int("v", 0, "verbosity")
			var list StringList
			fs.Var(&list, "list", "repeatable")
			var stdout bytes.Buffer
			pos, err := Parse(fs, tt.args, &stdout, func(w io.Writer) { io.WriteString(w, "help text") })
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Parse(%q) error = %v, want %v", tt.args, err, tt.wantErr)
			}
			if got := stdout.String() == "help text"; got != tt.wantHelp {
				t.Errorf("Parse(%q) wrote %q on stdout, want help %v", tt.args, stdout.String(), tt.wantHelp)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.wantPos, pos); diff != "" {
				t.Errorf("Parse(%q) positional (-want +got):\n%s", tt.args, diff)
			}
			if *v != tt.wantV || !cmp.Equal([]string(list), tt.wantList) {
				t.Errorf("Parse(%q): v = %d, list = %q; want %d, %q", tt.args, *v, list, tt.wantV, tt.wantList)
			}
		})
	}
}

func TestFail(t *testing.T) {
	var b bytes.Buffer
	Fail(&b, "tool", errors.Join(ErrUsage, errors.New("x")))
	_, err := Parse(NewFlagSet("t"), []string{"--nope"}, io.Discard, func(io.Writer) {})
	Fail(&b, "tool", err)
	Fail(&b, "tool", errors.New("two\nlines  here"))
	// errors.Join is not the "usage: " form Parse gives: kept whole, folded onto one line.
	want := "tool: usage; x\ntool: flag provided but not defined: -nope\ntool: two; lines here\n"
	if b.String() != want {
		t.Errorf("Fail wrote %q, want %q", b.String(), want)
	}
}
