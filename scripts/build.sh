#!/usr/bin/env bash
# Builds dist/: tsc type-checks and compiles src/, then esbuild bundles the client's path
# (cli + client + protocol + their packages) into dist/cli/q.js and its chunks, because a
# client call is a process start and loading ~400 small modules was most of its 0.4 s. The
# master and worker stay as tsc wrote them and are loaded from dist/ only in those modes.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f dist/cli/q-*.js # the last build's chunks (below); tsc writes no q-* file
npx tsc -p tsconfig.json
# Split at dynamic imports (--splitting): what a call does not use, such as -help's yargs, is
# a chunk of its own (dist/cli/q-*.js, beside q.js: paths in them are relative to where they
# are), not parsed at every start; and minified but for names (what is parsed is smaller;
# a stack trace with Q_DEBUG still names its functions). A chunk's name carries its hash, and
# a build removes the last build's: a client started before a rebuild may fail to load one.
npx esbuild q=dist/cli/main.js --bundle --splitting --platform=node --format=esm --target=node20 \
  --outdir=dist/cli --chunk-names=q-[name]-[hash] --minify-whitespace --minify-syntax --log-level=warning \
  --external:../master/master.js --external:../worker/worker.js --external:better-sqlite3 \
  --banner:js="import { createRequire as __qCreateRequire } from 'node:module'; const require = __qCreateRequire(import.meta.url);"
# dispatch-q is called about once a second by CodaLab's work manager: one file as well.
npx esbuild dist/dispatch/main.js --bundle --platform=node --format=esm --target=node20 \
  --outfile=dist/dispatch/dispatch-q.js --log-level=warning \
  --banner:js="import { createRequire as __qCreateRequire } from 'node:module'; const require = __qCreateRequire(import.meta.url);"
# The dashboard (master/http/routes.ts serves dist/dashboard): its page and login script bundled
# with preact, and the static files beside them.
mkdir -p dist/dashboard
npx esbuild src/dashboard/page/app.ts src/dashboard/page/login.ts --bundle --platform=browser --format=esm \
  --target=es2020 --minify --outdir=dist/dashboard --log-level=warning
cp src/dashboard/index.html src/dashboard/login.html src/dashboard/app.css dist/dashboard/
