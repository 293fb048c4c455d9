#!/usr/bin/env bash
# The README's second step: restore the snapshot `npm run demo` took, with kopia-restore, into a new
# folder (or the empty or new folder given as $1), and compare it with the folder it came from.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(bash test/tools/provision.sh kopia | tail -n 1)
export PATH="$bin:$PWD/node_modules/.bin:$PATH"
state="${XDG_CACHE_HOME:-$HOME/.cache}/kopia-k8s/demo"
summary="$state/last-summary.json"
[ -f "$summary" ] || { echo "demo: no $summary; run npm run demo first" >&2; exit 2; }
[ -n "${KOPIA_PASSWORD:-}${KK_ENCRYPTION_PASSWORD:-}" ] || export KOPIA_PASSWORD=kopia-k8s-demo
snapshot=$(sed -n 's/.*"snapshotId":"\([0-9a-f]*\)".*/\1/p' "$summary")
source_path=$(sed -n 's/.*"source":"[^:"]*:\([^"]*\)".*/\1/p' "$summary")
[ -n "$snapshot" ] || { echo "demo: the last demo backup saved no snapshot (see $summary)" >&2; exit 8; }
target="${1:-$(mktemp -d "$state/restored-XXXXXX")}"
bun scripts/kopia-restore.ts \
  --repository "${KK_REPOSITORY:-filesystem://$state/repository}" \
  --config-path "$state/config" \
  --snapshot "$snapshot" \
  --target "$target" \
  --summary-file "$state/last-restore-summary.json"
# What .kopiaignore leaves out of the demo backup is left out of the comparison.
if diff -r --no-dereference -x node_modules -x dist -x .git "$source_path" "$target"; then
  echo "demo: $target is identical to $source_path (snapshot $snapshot)" >&2
else
  echo "demo: $target differs from $source_path (changed since the backup?)" >&2
  exit 1
fi
