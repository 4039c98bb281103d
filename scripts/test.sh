#!/usr/bin/env bash
# Runs the whole suite with node's own test runner, one file at a time (the
# end-to-end files load kernel programs and start real servers).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
if [ ${#files[@]} -eq 0 ]; then
  echo "no test files under dist/test; run: npm run build" >&2
  exit 1
fi
exec node --test --test-concurrency=1 "${files[@]}"
