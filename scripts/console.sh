#!/usr/bin/env bash
# Builds the web console from its sources: installs the locked node packages,
# generates the TypeScript client from proto/ (controlplane/console/src/gen),
# type-checks and writes controlplane/console/dist, which the controlplane
# binary embeds. Commit src/gen and dist after running it; the test command
# checks that they match. Needs node and npm.
set -euo pipefail
cd "$(dirname "$0")/../controlplane/console"

npm ci --no-audit --no-fund --loglevel=error
npm run --silent generate
npm run --silent typecheck
npm run --silent build -- --logLevel warn
