// Command bench measures the pullkeys plugin binaries as the kubelet runs them: one whole
// process per request (fork, exec, the request on stdin, the response on stdout, exit), and
// reports every figure as a ratio to a floor program measured in the same run.
//
//	go run ./hack/bench [-out docs/benchmarks.md] [-runs N] [-quick] [-baseline DIR] [-variant-env K=V,…] [-match RE]
//
// It builds the binaries the way a release does (CGO_ENABLED=0, -trimpath, -ldflags "-s -w"),
// one per plugin, together with three floors and a launcher:
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
// Cases (caseKinds, listed by plan), each run many times after a warm-up, interleaved
// round-robin so that a change in the machine's load hits every case alike:
//
//   - cached: for ecr and gcr, a fresh token in the shared cache directory, put there by one
//     run beforehand; every run must make no API call (the fakes count every call). The ECR
//     case then runs with AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE pointing at
//     directories, which makes any AWS SDK configuration load fail: a run that succeeds has
//     loaded none. For dockercfg, which has no API, reading its docker config.
//   - cold (ecr, gcr): a fresh, empty cache directory per run, against the local fakes with
//     each injected API latency (0 and 50 ms by default); every run must make exactly one
//     token call.
//   - burst: N (50) simultaneous cold invocations for one registry sharing one fresh cache
//     directory: wall time until the last has answered, and the API calls the fake counted
//     (the shared cache lets exactly one fetch the token).
//   - throttle (throttle.go): N (300) processes of the ECR plugin, each with a cache directory
//     of its own, against the fake ECR with ECR's rate limit (a token bucket of 20 calls a
//     second, burst 200: ecrtest's SetBucket), their token calls held at a gate until the last
//     has asked and released together (SetGate): served, failed, API calls per process, p50
//     and p99 from the release; -throttle N and -throttle-bucket RATE,BURST change its shape.
//   - sizes of the stripped static binaries; GODEBUG=inittrace=1 of each binary's cached run
//     (the package initialisers every invocation pays for); memory at exit (launch -probe).
//
// The report sets each plugin's cached and cold medians (wall time, peak RSS) against the
// floor's and judges issue 15's targets: cached median at most 4× the floor for ecr and 3× for
// gcr and dockercfg, peak RSS at most 12 MiB, one token call per burst.
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
// beside the fresh ones, for before/after figures; a cached case's cache is always filled by
// the fresh binary, so a baseline may be a prototype that cannot fetch. -variant-env measures
// the providers again with extra environment variables (GOGC=100, say). -match keeps only the
// single-invocation cases whose label matches, for focused experiments. -quick is a smoke run
// (a handful of runs, no latency case, one burst) that checks every case answered correctly
// and that a burst made exactly one token call; TestQuickRun runs it.
//
// The harness and its launcher are Linux only (rusage, /proc, ptrace); elsewhere the package
// builds to nothing.
package main
