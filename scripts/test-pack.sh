#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, installed into a fresh prefix (not this
# checkout), then its `q` on PATH: -help, a master, a worker, a job, its log; and
# `dispatch-q --help`. Exits non-zero, naming the step, when any of it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
step() { echo "== test-pack: $*"; }

step "npm pack"
npm pack --silent --pack-destination "$tmp" >/dev/null
tarball=$(ls "$tmp"/*.tgz)
if tar -tzf "$tarball" | grep -E '\.map$|/bench/' >/dev/null; then echo "== test-pack: the tarball ships source maps or the bench"; exit 1; fi
step "install $(basename "$tarball") into a fresh prefix"
npm install -g --prefix "$tmp/prefix" "$tarball" --no-audit --no-fund --loglevel=error >/dev/null
export PATH="$tmp/prefix/bin:$PATH" HOME="$tmp/home"
mkdir -p "$HOME"
cd "$tmp"
step "q -help; q -version"
q -help | head -1 | grep -q '^q \[options\]'
q -version | grep -Eq '^q [0-9]+\.[0-9]+\.[0-9]+$'
dispatch-q --help | grep -q '^usage: dispatch-q'
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
step "a master, a worker and a job on port $port"
q -mode master -masterPort "$port" > master.log 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do grep -q '===== master' master.log && break; sleep 0.1; done
q -mode worker -masterPort "$port" -basePath "$tmp/scratch" > worker.log 2>&1 &
pids+=($!)
out=$(q -masterPort "$port" -wait -add echo packed)
echo "$out" | grep -q 'done'
h=$(q -masterPort "$port" -list -tabs | cut -f1 | head -1)
[ "$(q -masterPort "$port" -log "$h")" = packed ]
step "passed"
