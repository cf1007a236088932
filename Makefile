# pullkeys: kubelet image credential provider plugins.
# The two commands a newcomer needs: `make demo` and `make test`.

GO        ?= go
FUZZTIME  ?= 3s
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -s -w -X github.com/pullkeys/pullkeys/providers.version=$(VERSION) -X github.com/pullkeys/pullkeys/providers.commit=$(COMMIT)
BINARIES  := acr-credential-provider dockercfg-credential-provider ecr-credential-provider gcr-credential-provider pullkeys
# Every build and test but the race tests compiles as a release does (static, -trimpath): what
# is tested is what ships, and vet, the e2e suites and the binaries the tests build share one
# compile cache (a fresh clone compiles each package once for them, once more for -race).
SHIP      := CGO_ENABLED=0 GOFLAGS='$(strip $(shell $(GO) env GOFLAGS) -trimpath)'

.PHONY: all build demo test check unit fuzz-short fuzz e2e kubelet-e2e node-e2e bench bench-quick release release-repro clean

all: build

## build: static binaries into bin/
build:
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ $(addprefix ./cmd/,$(BINARIES))

## demo: the whole chain on loopback: a registry with auth, the cloud fakes, a kubelet config,
## `pullkeys check` and a real pull with the returned credentials. No cloud account, no network.
demo:
	cd e2e && $(SHIP) $(GO) run ./cmd/demo

## test: vet, gofmt, the race tests (every fuzz target's seed corpus among them), e2e, the
## kubelet-conformance suite. CI also runs fuzz-short and node-e2e, each as a step of its own.
test: check unit e2e kubelet-e2e

check:
	$(SHIP) $(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# Every `go test` here runs with -vet=off: `go vet ./...` of the same module ran before it with
# all of vet's analyzers (a superset of go test's), and go test's own vet pass would analyse
# every dependency a second time (minutes on a fresh clone).
# hack/release's tests run without -race: they gzip release archives at best compression,
# which the race detector slows tenfold (minutes) and has nothing to find in.
unit:
	CGO_ENABLED=1 $(GO) test -race -vet=off -count=1 $$($(GO) list ./... | grep -v '/hack/release$$')
	$(SHIP) $(GO) test -vet=off -count=1 ./hack/release

## fuzz-short: every fuzz target of the main and e2e modules for FUZZTIME (3s) each
fuzz-short:
	FUZZTIME=$(FUZZTIME) ./hack/fuzz.sh

## fuzz: every fuzz target for longer (FUZZTIME=10m make fuzz), the kubelet-conformance ones too
fuzz:
	FUZZTIME=$${FUZZTIME:-2m} FUZZ_MODULES=". e2e e2e/kubelet" ./hack/fuzz.sh

e2e:
	cd e2e && $(SHIP) $(GO) vet ./... && $(SHIP) $(GO) test -vet=off -count=1 ./...

kubelet-e2e:
	cd e2e/kubelet && $(SHIP) $(GO) vet ./... && $(SHIP) $(GO) test -vet=off -count=1 ./...

## node-e2e: the real-node suite (root, containerd, runc, busybox-static): the kubelet binary,
## standalone with static pods and containerd's CRI, runs private-image pods through the plugins.
## Not part of `make test`. The kubelet binary is cached under $$PULLKEYS_NODE_CACHE or the user
## cache directory.
node-e2e:
	cd e2e/kubelet && $(SHIP) $(GO) vet ./node && PULLKEYS_NODE_E2E=1 $(SHIP) $(GO) test -vet=off -count=1 -v -timeout 20m ./node

## bench: whole-process benchmarks against the floor; writes docs/benchmarks.md
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./cache/ ./providers/...
	$(GO) run ./hack/bench -out docs/benchmarks.md

## bench-quick: a smoke run of the whole-process harness (a handful of runs, no latency)
bench-quick:
	$(GO) run ./hack/bench -quick

## release: reproducible static archives with checksums in dist/
release:
	$(GO) run ./hack/release -version $(VERSION) -commit $(COMMIT) -out dist

## release-repro: build every platform twice, from two paths with a cold build cache, and compare bytes (slow)
release-repro:
	PULLKEYS_SLOW_TESTS=1 $(GO) test -count=1 -timeout=60m -run 'TestRelease$$' ./hack/release

clean:
	rm -rf bin dist
