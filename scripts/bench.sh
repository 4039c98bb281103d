#!/usr/bin/env bash
# npm run bench: builds, then the benchmarks of bench/RESULTS.md. The replay
# and parser benchmarks need no root; the live ones (kernel capture, wrk
# against nginx and Node, the sidecar mesh) run when root, installing wrk,
# haproxy, bpftool and time if missing.
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
# Load generators and the mesh benchmark's sidecars and probes (command, then its package).
for tool in wrk:wrk haproxy:haproxy bpftool:bpftool /usr/bin/time:time; do
  if ! command -v "${tool%%:*}" >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tool##*:}" >/dev/null
  fi
done
echo "== live overhead: wrk (saturating) and h2load at 20,000 req/s against nginx and Node, with and without the agent (node dist/bench/live-overhead.js 5 3 8)"
node dist/bench/live-overhead.js 5 3 8
echo "== events delivered into JavaScript (node dist/bench/capture-throughput.js 10 64 4)"
node dist/bench/capture-throughput.js 10 64 4
echo "== sidelight vs. a two-hop HAProxy sidecar mesh: wrk (saturating) and h2load at 4,000 req/s against nginx; CPU, RSS and BPF time per request (node dist/bench/mesh.js --seconds 5 --rounds 3)"
node dist/bench/mesh.js --seconds 5 --rounds 3
echo "== a batching HTTP/2 server (25 streams of 2 KiB per writev, past the per-syscall cap): exactness, drops, BPF and agent CPU per request (node dist/bench/batching.js --rounds 3)"
node dist/bench/batching.js --rounds 3
echo "== a batching HTTP/1.1 server (25 pipelined requests per connection, 2 KiB bodies): the same figures (node dist/bench/batching.js --protocol h1 --rounds 3
echo "== a burst of 3,000 HTTP/2 requests through HAProxy to nginx over HTTP/1.1, both hops watched at default settings: small page, then 16 KiB bodies (node dist/bench/burst.js --rounds 3 [--body 16384])"
node dist/bench/burst.js --rounds 3
node dist/bench/burst.js --rounds 3 --body 16384)"
node dist/bench/batching.js --protocol h1 --rounds 3
echo "== a burst of 3,000 HTTP/2 requests through HAProxy to nginx over HTTP/1.1, both hops watched at default settings: small page, then 16 KiB bodies (node dist/bench/burst.js --rounds 3 [--body 16384])"
node dist/bench/burst.js --rounds 3
node dist/bench/burst.js --rounds 3 --body 16384
