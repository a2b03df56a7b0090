#!/usr/bin/env bash
# Checks the wire contract for breaking changes against a git ref (default:
# the main branch). Usage: scripts/breaking.sh [REF]
set -euo pipefail
cd "$(dirname "$0")/.."
ref="${1:-main}"
if [ "$ref" = main ]; then against=".git#branch=main,subdir=proto"; else against=".git#ref=${ref},subdir=proto"; fi
go tool buf breaking proto --against "$against"
echo "no breaking changes against $ref"
