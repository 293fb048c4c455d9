#!/usr/bin/env bash
# The README's test command (npm test): the whole suite with bun test, closed by a plain
# "N passed, N failed" line (bun's own summary is not a format CI reads).
set -uo pipefail
cd "$(dirname "$0")/../.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
bun test --timeout 600000 "$@" 2> >(tee "$log" >&2)
status=$?
wait
passed=$(sed -n 's/^ *\([0-9][0-9]*\) pass$/\1/p' "$log" | tail -n 1)
failed=$(sed -n 's/^ *\([0-9][0-9]*\) fail$/\1/p' "$log" | tail -n 1)
errors=$(grep -c '^# Unhandled error' "$log")
echo "${passed:-0} passed, $(( ${failed:-0} + errors )) failed"
[ "$status" -eq 0 ] && [ -n "$passed" ] || exit "${status/#0/1}"
