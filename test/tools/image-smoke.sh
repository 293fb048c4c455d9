#!/usr/bin/env bash
# Smoke test of the image: every binary answers --help inside it, and a kopia-backup round trip into
# a filesystem repository on a mounted volume, restored by kopia-restore, gives identical data.
# Prints size and breakdown.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="$PWD/test/tools/podman/containers.conf"
image=$1
run() { podman run --rm --network none "$@"; }

# Output is captured whole before it is searched: `| grep -q` would close the pipe at the first
# match, and podman, still writing, fails with "broken pipe" under pipefail.
for binary in operator-backup operator-restore kopia-backup kopia-maintenance kopia-restore; do
  help=$(run "$image" "$binary" --help) && [[ $help == *--help* ]] || { echo "$binary --help failed in $image" >&2; exit 1; }
done
version=$(run "$image" kopia --version) && [[ $version == *v0.23.1* ]] || { echo "kopia --version in $image: $version" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data/nested dir" "$work/repo" "$work/restore"
head -c 5000000 /dev/urandom > "$work/data/random.bin"
printf 'hello\n' > "$work/data/nested dir/ünïcødé.txt"
ln -s random.bin "$work/data/link"
chmod 600 "$work/data/random.bin"
password="smoke-$RANDOM-$RANDOM"
run --read-only -e KOPIA_PASSWORD="$password" -v "$work/data:/data:ro" -v "$work/repo:/repo" --tmpfs /kopia --tmpfs /tmp \
  "$image" kopia-backup --path /data --repository filesystem:///repo --hostname smoke --username test >&2
run --read-only -e KOPIA_PASSWORD="$password" -v "$work/repo:/repo:ro" -v "$work/restore:/restore" --tmpfs /kopia --tmpfs /tmp \
  "$image" kopia-restore --repository filesystem:///repo --hostname smoke --username test --target /restore/data >&2
diff -r --no-dereference "$work/data" "$work/restore/data"
echo "[image] round trip: identical" >&2

# kopia runs the image's rclone for rclone: repositories; here a remote of rclone's local type, set
# up by RCLONE_CONFIG_* as a Job's Secret would, on a read-only root filesystem as in a Job.
mkdir -p "$work/rclone-repo"
run --read-only -e KOPIA_PASSWORD="$password" -e RCLONE_CONFIG_DISK_TYPE=local -v "$work/data:/data:ro" -v "$work/rclone-repo:/repo" --tmpfs /kopia --tmpfs /tmp \
  "$image" kopia-backup --path /data --repository rclone:disk:/repo --hostname smoke --username test >&2
ls "$work/rclone-repo" | grep -q '^kopia.repository' || { echo "rclone: repository in $image: no kopia.repository written" >&2; exit 1; }
echo "[image] rclone: backup through the image's rclone written" >&2

size=$(podman image inspect --format '{{.Size}}' "$image")
echo "[image] $image: $((size / 1024 / 1024)) MiB" >&2
podman history --format '{{.Size}}\t{{.CreatedBy}}' "$image" | cut -c1-150 >&2
podman run --rm --network none --entrypoint sh "$image" -c 'du -sh /usr/local/bin/* /usr/lib/x86_64-linux-gnu 2>/dev/null' >&2
