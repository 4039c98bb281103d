#!/usr/bin/env bash
# npm run bench: builds, then the benchmarks of bench/RESULTS.md. The replay
# and parser benchmarks need no root; the live ones (kernel capture, wrk
# against nginx and Node) run when root, installing wrk if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SIDELIGHT_SETUP_PEERS=1 bash scripts/setup.sh
echo "== replay: checked-in recordings, one core (node dist/bench/replay.js 20)"
node dist/bench/replay.js 20
echo "== HTTP/2 parser: frames and gRPC calls per core (node dist/bench/http2-parse.js 2000 300)"
node dist/bench/http2-parse.js 2000 300
if [ "$(id -u)" -ne 0 ]; then
  echo "== live benchmarks skipped: they load kernel programs (run as root)"
  exit 0
fi
if ! command -v wrk >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
echo "== live overhead: wrk (saturating) and h2load at 20,000 req/s against nginx and Node, with and without the agent (node dist/bench/live-overhead.js 5 3 8)"
node dist/bench/live-overhead.js 5 3 8
echo "== events delivered into JavaScript (node dist/bench/capture-throughput.js 10 64 4)"
node dist/bench/capture-throughput.js 10 64 4
