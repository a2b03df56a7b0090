#!/usr/bin/env bash
# Regenerates the Go code of the wire contract (proto/gen) from proto/.
# buf and the protoc plugins are pinned Go tools (scripts/tools/go.mod), so
# this needs no network once the module cache is warm.
set -euo pipefail
cd "$(dirname "$0")/.."
go tool buf format -w
go tool buf lint
go tool buf generate
echo "regenerated proto/gen"
