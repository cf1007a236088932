#!/usr/bin/env bash
# Runs every fuzz target of the modules in FUZZ_MODULES (default: the main and e2e modules)
# for FUZZTIME each (default 3s).
# make test runs it briefly; make fuzz runs it for longer.
set -euo pipefail
fuzztime=${FUZZTIME:-3s}
root="$(cd "$(dirname "$0")/.." && pwd)"
count=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for module in ${FUZZ_MODULES:-. e2e}; do
cd "$root/$module"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(cat "$dir"/*_test.go 2>/dev/null | sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' || true)
  for target in $targets; do
    echo "fuzz: $pkg $target ($fuzztime)"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" >"$log" 2>&1 || {
      cat "$log"
      echo "fuzz: $pkg $target FAILED (a failing input was saved under the package's testdata/fuzz)" >&2
      exit 1
    }
    count=$((count + 1))
  done
done
done
echo "fuzz: $count targets passed"
