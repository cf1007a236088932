// Package cli is the pullkeys command line: validate, check, request, version and help, as a
// function of its arguments and streams ([Run]) so that tests and other programs can run it
// in-process. The work is done by package kubelet; this package parses flags,
// prints reports and chooses the exit status: [ExitOK], [ExitProblems] when the config has
// errors or a plugin failed or gave an answer the kubelet would not use, [ExitUsage] for a bad
// command line. Flags may come before or after the images; "--" ends them.
package cli
