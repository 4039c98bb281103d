#!/usr/bin/env bash
# Runs the suite with node's own test runner, one file per runner, each under a
# time bound, so that no failure can stall the suite:
#   - node's runner times out the file, and each test in it, at the bound;
#   - `timeout` kills the file's whole process group a tenth later (+5 s), in
#     case a child still holds the runner open;
#   - each file runs in its own session, and whatever is left in it afterwards
#     (a peer or an agent a failed test started) is killed and named.
# A file that failed, overran or left processes behind is named and fails the run.
#
#   scripts/test.sh            every dist/test/**/*.test.js, one at a time (the
#                              end-to-end files load kernel programs and start real servers)
#   scripts/test.sh --unit     only those that need no root and no kernel programs
#                              (not *.e2e.test.js), as many at once as there are cores
#   scripts/test.sh FILE...    these compiled files, one at a time
#
# SIDELIGHT_TEST_BOUND (seconds, default 300) is the bound of a file that does
# not name its own with a line `// test-file-bound: <seconds>`.
set -uo pipefail
cd "$(dirname "$0")/.."
# Run from inside a test file (the runner's own test), node would report to
# that file's runner instead of running the files.
unset NODE_TEST_CONTEXT

files=()
jobs=1
if [ "${1:-}" = --unit ]; then
  mapfile -t files < <(find dist/test -name '*.test.js' ! -name '*.e2e.test.js' | sort)
  jobs=$(nproc 2>/dev/null || echo 2)
elif [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(find dist/test -name '*.test.js' | sort)
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "no test files under dist/test; run: npm run build" >&2
  exit 1
fi

default_bound=${SIDELIGHT_TEST_BOUND:-300}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Live processes of a session, as "pid:name" (read from /proc: no procps
# needed; zombies are dead already and left to their reaper).
session_members() {
  local sid=$1 p stat rest name state s
  for p in /proc/[0-9]*; do
    stat=$(cat "$p/stat" 2>/dev/null) || continue
    name=${stat#*(}; name=${name%)*}
    rest=${stat##*) }
    # Fields after the name: state ppid pgrp session ...
    read -r state _ _ s _ <<<"$rest"
    [ "$s" = "$sid" ] && [ "$state" != Z ] && echo "${p#/proc/}:$name"
  done
}

# Kills what is left of a session; prints what it had to kill. A process
# killed a moment ago (the file's own exit handler) gets that moment to go.
kill_session() {
  local sid=$1 m left
  left=$(session_members "$sid")
  [ -z "$left" ] && return 0
  sleep 0.5
  left=$(session_members "$sid")
  for m in $left; do kill -KILL "${m%%:*}" 2>/dev/null; done
  echo $left
}

# Runs one file; writes "rc secs bound left..." to $tmp/$2.result. With
# follow, the file's output is shown as it comes; otherwise once it ends.
run_file() {
  local f=$1 i=$2 follow=$3 bound out sid follower rc t0 left
  bound=$(sed -n 's|^// test-file-bound: \([0-9][0-9]*\)$|\1|p' "$f" | head -1)
  bound=${bound:-$default_bound}
  out="$tmp/$i.out"
  t0=$(date +%s)
  # setsid without a fork (a background job is no group leader): its pid is
  # the session id. No --test-force-exit: under load, node 20 then ends a file
  # before all its tests ran and reports no failure (test/support/children.ts
  # kills what tests started, so a finished file exits by itself).
  setsid timeout -k 5 $((bound + bound / 10 + 5)) node --test --test-concurrency=1 \
    --test-timeout=$((bound * 1000)) --test-reporter=spec "$f" >"$out" 2>&1 &
  sid=$!
  if [ "$follow" = 1 ]; then
    tail -s 0.2 -n +1 -f --pid="$sid" "$out" &
    follower=$!
  fi
  wait "$sid"
  rc=$?
  left=$(kill_session "$sid")
  if [ "$follow" = 1 ]; then wait "$follower"; else cat "$out"; fi
  echo "$rc $(($(date +%s) - t0)) $bound $left" >"$tmp/$i.result"
}

started=$(date +%s)
for i in "${!files[@]}"; do
  if [ "$jobs" -gt 1 ]; then
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    run_file "${files[$i]}" "$i" 0 &
  else
    run_file "${files[$i]}" "$i" 1
  fi
done
wait

# One count of the spec reporter's summary in a file's output.
count() { sed -n "s/^ℹ $2 \([0-9][0-9]*\)$/\1/p" "$1" | tail -1; }

declare -i pass=0 fail=0 skipped=0 cancelled=0
status=0
report=()
failed_outputs=()
for i in "${!files[@]}"; do
  f=${files[$i]}
  out="$tmp/$i.out"
  read -r rc secs bound left <"$tmp/$i.result"
  pass+=$(count "$out" pass) fail+=$(count "$out" fail) skipped+=$(count "$out" skipped) cancelled+=$(count "$out" cancelled)
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || grep -q "timed out after $((bound * 1000))ms" "$out"; then
    report+=("sidelight test: OVERRAN $f: its bound is ${bound}s, it ran ${secs}s; a hang, killed with everything it started")
    status=1
  elif [ "$rc" -ne 0 ]; then
    report+=("sidelight test: FAILED $f (${secs}s)")
    failed_outputs+=("$out")
    status=1
  fi
  # A file must stop what it started, pass or fail: the leak fails the run.
  if [ -n "$left" ]; then
    report+=("sidelight test: LEFT PROCESSES $f: still running after it ended (pid:name): $left; killed")
    status=1
  fi
done
# The reporter's failure details come again last, where a log's tail shows
# them (a long run's middle is often all a CI excerpt leaves out).
for out in "${failed_outputs[@]}"; do
  sed -n '/^✖ failing tests:/,$p' "$out" | head -n 120 >&2
done
echo "sidelight test: ${#files[@]} files in $(($(date +%s) - started))s; tests: $pass passed, $fail failed, $cancelled cancelled, $skipped skipped" >&2
for line in "${report[@]}"; do echo "$line" >&2; done
exit "$status"
