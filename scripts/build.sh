#!/usr/bin/env bash
# Builds dist/: tsc type-checks and compiles src/, then esbuild bundles the client's path
# (cli + client + protocol + their packages) into dist/cli/q.cjs, because a client call is a
# process start and loading ~400 small modules was most of its 0.4 s. The master and worker
# stay as tsc wrote them and are loaded from dist/ only in those modes.
set -euo pipefail
cd "$(dirname "$0")/.."
# The last build's bundles (an older build's ESM ones too) and their code caches (below).
rm -f dist/cli/q*.js dist/cli/*.cache* dist/dispatch/dispatch-q.js dist/dispatch/*.cache*
npx tsc -p tsconfig.json
# CommonJS, because bin/q runs it from V8's code cache (src/cli/cachedScript.ts: compiling it
# was ~20 ms of every call), which Node 20 has for a vm.Script but not for a module. Minified
# but for names: what is compiled without a cache is smaller, and a stack trace with Q_DEBUG
# still names its functions. import.meta.url, which a CommonJS file lacks, is its own URL.
bundle() {
  npx esbuild "$1" --bundle --platform=node --format=cjs --target=node20 --outfile="$2" \
    --minify-whitespace --minify-syntax --log-level=warning --external:better-sqlite3 \
    --define:import.meta.url=__qUrl --banner:js="const __qUrl = require('node:url').pathToFileURL(__filename).href;" "${@:3}"
}
bundle dist/cli/main.js dist/cli/q.cjs --external:../master/master.js --external:../worker/worker.js
# dispatch-q is called about once a second by CodaLab's work manager: one file as well.
bundle dist/dispatch/main.js dist/dispatch/dispatch-q.cjs
# The dashboard (master/http/routes.ts serves dist/dashboard): its page and login script bundled
# with preact, and the static files beside them.
mkdir -p dist/dashboard
npx esbuild src/dashboard/page/app.ts src/dashboard/page/login.ts --bundle --platform=browser --format=esm \
  --target=es2020 --minify --outdir=dist/dashboard --log-level=warning
cp src/dashboard/index.html src/dashboard/login.html src/dashboard/app.css dist/dashboard/
