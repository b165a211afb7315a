#!/usr/bin/env bash
# Builds dist/: tsc type-checks and compiles src/, then esbuild bundles the client's path
# (cli + client + protocol + their packages) into one file, because a client call is a
# process start and loading ~400 small modules was most of its 0.4 s. The master and worker
# stay as tsc wrote them and are loaded from dist/ only in those modes.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
npx esbuild dist/cli/main.js --bundle --platform=node --format=esm --target=node20 \
  --outfile=dist/cli/q.js --log-level=warning \
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
