#!/usr/bin/env bash
# The README's first command: back up a local folder (default: this checkout) into a local
# filesystem repository with kopia-backup. kopia is provisioned automatically.
# Override with KK_BACKUP_PATH, KK_REPOSITORY, KOPIA_PASSWORD; extra arguments go to kopia-backup.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(bash test/tools/provision.sh kopia | tail -n 1)
export PATH="$bin:$PWD/node_modules/.bin:$PATH"
state="${XDG_CACHE_HOME:-$HOME/.cache}/kopia-k8s/demo"
if [ -z "${KOPIA_PASSWORD:-}${KK_ENCRYPTION_PASSWORD:-}" ]; then
  export KOPIA_PASSWORD=kopia-k8s-demo
  echo "demo: using the demo password; set KOPIA_PASSWORD for a real repository" >&2
fi
bun scripts/kopia-backup.ts \
  --path "${KK_BACKUP_PATH:-$PWD}" \
  --repository "${KK_REPOSITORY:-filesystem://$state/repository}" \
  --config-path "$state/config" \
  --summary-file "$state/last-summary.json" \
  "$@"
echo "demo: summary in $state/last-summary.json; restore it into a new folder and compare with: npm run demo:restore" >&2
