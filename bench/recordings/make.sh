#!/usr/bin/env bash
# Makes the checked-in recordings the replay benchmark reads (root: it runs
# the real capture). Each recording holds both ends of every exchange:
#   http1.slrec.gz  h2load --h1 (keep-alive) against nginx serving a small file
#   http2.slrec.gz  h2load (h2c, 10 streams per connection) against a Node http2 server
#   grpc.slrec.gz   @grpc/grpc-js unary, server-streaming and bidi calls
# Usage: bash bench/recordings/make.sh   (after npm run build)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/recordings
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# Records while "$@" runs: the recorder starts first and stops after.
record() {
  local file=$1 port=$2; shift 2
  node bin/sidelight.js record --out "$tmp/rec" --port "$port" --log-level warn &
  local rec=$!
  sleep 2
  "$@" >/dev/null
  sleep 1
  kill -INT "$rec"
  wait "$rec"
  gzip -9 -c "$tmp/rec" > "$out/$file"
  echo "$out/$file: $(stat -c %s "$out/$file") bytes"
}

port=$(free_port)
printf 'hello from nginx, a small static page for the benchmark\n' > "$tmp/index.html"
cat > "$tmp/nginx.conf" <<CONF
daemon off; worker_processes 1; user root; pid $tmp/nginx.pid; error_log $tmp/error.log;
events { worker_connections 64; }
http { access_log off; keepalive_requests 100000;
  client_body_temp_path $tmp/b; proxy_temp_path $tmp/p; fastcgi_temp_path $tmp/f; uwsgi_temp_path $tmp/u; scgi_temp_path $tmp/s;
  server { listen 127.0.0.1:$port; root $tmp; } }
CONF
nginx -c "$tmp/nginx.conf" -p "$tmp" &
sleep 0.5
record http1.slrec.gz "$port" h2load --h1 -n 2000 -c 4 "http://127.0.0.1:$port/index.html"
kill %1 2>/dev/null || true

port=$(free_port)
node -e '
const s = require("node:http2").createServer();
s.on("stream", (st, h) => { st.respond({ ":status": 200, "content-type": "application/json" }); st.end(JSON.stringify({ path: h[":path"], ok: true })); });
s.listen(Number(process.argv[1]), "127.0.0.1");' "$port" &
sleep 0.5
record http2.slrec.gz "$port" h2load -n 2000 -c 4 -m 10 "http://127.0.0.1:$port/api/items?page=1"

port=$(free_port)
record grpc.slrec.gz "$port" node dist/bench/load/grpc-traffic.js "$port" 1000
