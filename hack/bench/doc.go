// Command bench measures the pullkeys plugin binaries as the kubelet runs them: one whole
// process per request (fork, exec, the request on stdin, the response on stdout, exit), and
// reports every figure as a ratio to a floor program measured in the same run.
//
//	go run ./hack/bench [-out docs/benchmarks.md] [-runs N] [-quick] [-baseline DIR] [-variant-env K=V,…] [-match RE]
//
// It builds the binaries the way a release does (CGO_ENABLED=0, -trimpath, -ldflags "-s -w"),
// each plugin as the two binaries it ships as (the front the kubelet runs, which replays a
// saved answer, and the -full binary it runs otherwise; see providers/replay),
// together with three floors and a launcher:
//
//   - floor (hack/bench/floor) only decodes the request with encoding/json and writes a fixed
//     response: the least any plugin can do, the unit of every ratio;
//   - typesfloor does the same with the k8s.io/kubelet API types linked in: the cost of those
//     types and of what k8s.io/apimachinery brings with them;
//   - fixed is providers.Main around a provider with a fixed answer: the cost of the shared
//     protocol layer (flags, logger, apimachinery codecs, image normalisation);
//   - launch starts each measured process and reports its wall time (fork to exit) and its
//     ru_maxrss. Go starts processes with vfork, and Linux charges the parent's resident size
//     to a vforked child's ru_maxrss when it execs: started from the harness, every process
//     would seem to use the harness's 13 MiB. The launcher is under 2 MiB, the lowest figure
//     this method can report. With -probe it also stops the process under ptrace as it exits
//     and reads VmHWM, RssFile and RssAnon from /proc: how much of the peak is the binary's
//     own pages, shared through the page cache, and how much is private.
//
// Cases, each run many times after a warm-up, interleaved round-robin so that a change in the
// machine's load hits every case alike:
//
//   - warm: the shared cache directory holds a fresh token and the full plugin's saved answer to
//     this very request, both from one run through the front beforehand: the front replays it.
//     Every run is checked to be a replay: the -full binary is watched with inotify (executing
//     a file opens it; the front only stats it) and a run that executed it fails, as does one
//     with no answer in the answers directory. The fakes count every call, so "no network" is
//     checked, and the ECR cases run with AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE
//     pointing at directories, which makes any AWS SDK configuration load fail: a warm run
//     that succeeds has loaded none. The dockercfg front replays an answer saved from its
//     docker config file, which is unchanged; it has no API and no cold case.
//   - warm-token: a fresh token in the cache but no saved answer for the request (another image
//     of the same registry every run; the answer the full plugin saves is removed after each
//     run): the front misses and runs the full plugin, which answers from the cached token.
//     Checked: no API call, the full plugin executed, one answer saved. dockercfg's is called
//     miss: the full plugin reads the docker config.
//   - cold: a fresh, empty cache directory per run, against the local fakes with each injected
//     API latency (0 and 50 ms by default); through the front, which runs the full plugin.
//   - the -full binaries run directly, warm-token (miss) and cold (first latency): the plugin as
//     it ran before the split, so that what the front adds on a miss is the difference.
//   - burst: N (50) simultaneous cold invocations of a front for one registry sharing one fresh
//     cache directory: wall time until the last has answered, the API calls the fake counted,
//     and how many processes ran the full plugin (by peak RSS: inotify merges simultaneous
//     opens); the others replayed an answer saved during the burst.
//   - sizes of the stripped static binaries; GODEBUG=inittrace=1 of each binary's warm run (the
//     package initialisers every invocation pays for: a front's replay, a -full binary run
//     directly); memory at exit (launch -probe).
//
// Every answer is decoded as the kubelet decodes it (providers.DecodeResponse) and must hold
// credentials for the image's registry; any failure, or anything written on stderr, stops the
// run.
//
// The binaries only ever talk to fakes on 127.0.0.1 in the harness's process: ecrtest's fake
// ECR (through AWS_ENDPOINT_URL_ECR and the other AWS_ENDPOINT_URL_* variables, with static
// credentials and AWS_EC2_METADATA_DISABLED=true) and gcrtest's fake GCE metadata server
// (GCE_METADATA_HOST), both set for every run of every binary, in an environment that inherits
// nothing from the harness's own. Every case has fakes of its own, so the calls counted are
// that case's.
//
// With -out, the generated part of the Markdown file (between the markers
// "<!-- bench:begin -->" and "<!-- bench:end -->") is replaced and the rest kept, so that the
// analysis written around the numbers survives a re-run; without it the Markdown goes to
// stdout. -baseline DIR measures the binaries in DIR (built the same way from another tree)
// beside the fresh ones, for before/after figures; a warm case's cache is always filled by
// the fresh binary, so a baseline may be a prototype that cannot fetch (a baseline front then
// runs once more itself, so that its own full plugin saves the answer it replays; a baseline
// from before the split, one binary, is measured as it is). -variant-env measures
// the providers again with extra environment variables (GOGC=100, say). -match keeps only the
// single-invocation cases whose label matches, for focused experiments. -quick is a smoke run
// (a handful of runs, no latency case, one burst) that checks every case answered correctly,
// that the fronts' warm runs replayed and their other runs did not, and that a burst made
// exactly one token call; TestQuickRun runs it.
//
// The harness and its launcher are Linux only (rusage, /proc, ptrace); elsewhere the package
// builds to nothing.
package main
