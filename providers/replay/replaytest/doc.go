// Package replaytest helps tests and benchmarks of fronts (see package replay): CheckReplay
// holds a replayed answer to the full plugin's, and Runs and Watch tell whether a front
// replayed or ran its full plugin by counting the runs of binaries with inotify.
//
// Executing a file opens it (IN_OPEN), and in a plugin's run nothing else opens a front's or
// its full plugin's binary (the front only stats its full plugin), so each open is one run.
// Watching changes neither the file nor its status change time, which a front's replay key
// holds; a wrapper script in the full plugin's place would change both. The kernel queues the
// event when the file is opened, so it can be read as soon as the run has started. The kernel
// merges an event with the previous one while that is unread, so two runs of one binary
// between two reads count as one: read (Take) after each run, and tell "ran" from "did not
// run" rather than count. Linux only.
package replaytest
