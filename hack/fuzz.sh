#!/usr/bin/env bash
# Runs every fuzz target of the main module for FUZZTIME each (default 3s).
# make test runs it briefly; make fuzz runs it for longer.
set -euo pipefail
fuzztime=${FUZZTIME:-3s}
cd "$(dirname "$0")/.."
count=0
for pkg in $(go list ./...); do
  targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
  for target in $targets; do
    echo "fuzz: $pkg $target ($fuzztime)"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" >/tmp/pullkeys-fuzz.log 2>&1 || {
      cat /tmp/pullkeys-fuzz.log
      echo "fuzz: $pkg $target FAILED (a failing input was saved under the package's testdata/fuzz)" >&2
      exit 1
    }
    count=$((count + 1))
  done
done
echo "fuzz: $count targets passed"
