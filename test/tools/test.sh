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
# A skipped or todo test is not a passing one: bun exits 0 for them, this script does not.
skipped=$(sed -n 's/^ *\([0-9][0-9]*\) skip$/\1/p' "$log" | tail -n 1)
todo=$(sed -n 's/^ *\([0-9][0-9]*\) todo$/\1/p' "$log" | tail -n 1)
not_run=$(( ${skipped:-0} + ${todo:-0} ))
[ "$not_run" -eq 0 ] || echo "$not_run skipped or todo tests, counted as failed"
echo "${passed:-0} passed, $(( ${failed:-0} + errors + not_run )) failed"
[ "$status" -eq 0 ] && [ -n "$passed" ] && [ "$not_run" -eq 0 ] || exit "${status/#0/1}"
