#!/usr/bin/env bash
# Smoke test of the image: it is built for the expected platform (default linux/amd64), and so is
# every executable it adds; every binary answers --help inside it, and a kopia-backup round trip into
# a filesystem repository on a mounted volume, restored by kopia-restore, gives identical data.
# Another architecture's image runs under emulation (provision.sh arm64). Prints size and breakdown.
# Usage: image-smoke.sh <image> [linux/amd64|linux/arm64]
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="$PWD/test/tools/podman/containers.conf"
image=$1 platform=${2:-linux/amd64}
run() { podman run --rm --network none "$@"; }
fail() { echo "$platform $image: $*" >&2; exit 1; }

built_for=$(podman image inspect --format '{{.Os}}/{{.Architecture}}' "$image")
[ "$built_for" = "$platform" ] || fail "the image is built for $built_for"
# An executable of the wrong architecture could still run here (the host's, or under emulation):
# each one's ELF header must name the platform's machine (e_machine 62 x86-64, 183 aarch64).
case "$platform" in linux/amd64) machine=62 ;; linux/arm64) machine=183 ;; *) fail "unsupported platform" ;; esac
machines=$(run --entrypoint bash "$image" -c 'for f in /usr/local/bin/* /usr/bin/rclone; do printf "%s %s\n" "$f" "$(od -An -j18 -N2 -tu2 "$f" | tr -d " ")"; done')
while read -r file found; do
  [ "$found" = "$machine" ] || fail "$file is not a $platform executable (ELF e_machine $found, expected $machine)"
done <<<"$machines"
[ "$(wc -l <<<"$machines")" -ge 6 ] || fail "expected kopia, rclone and the scripts, found: $machines"
arch=$(run "$image" uname -m)
echo "[image] $platform: every executable is built for it; uname -m in the image: $arch" >&2

# Output is captured whole before it is searched: `| grep -q` would close the pipe at the first
# match, and podman, still writing, fails with "broken pipe" under pipefail.
for binary in operator-backup operator-restore kopia-backup kopia-maintenance kopia-restore; do
  help=$(run "$image" "$binary" --help) && [[ $help == *--help* ]] || fail "$binary --help failed"
done
version=$(run "$image" kopia --version) && [[ $version == *v0.23.1* ]] || fail "kopia --version: $version"

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
echo "[image] $platform round trip: identical" >&2

# kopia runs the image's rclone for rclone: repositories; here a remote of rclone's local type, set
# up by RCLONE_CONFIG_* as a Job's Secret would, on a read-only root filesystem as in a Job.
mkdir -p "$work/rclone-repo"
run --read-only -e KOPIA_PASSWORD="$password" -e RCLONE_CONFIG_DISK_TYPE=local -v "$work/data:/data:ro" -v "$work/rclone-repo:/repo" --tmpfs /kopia --tmpfs /tmp \
  "$image" kopia-backup --path /data --repository rclone:disk:/repo --hostname smoke --username test >&2
ls "$work/rclone-repo" | grep -q '^kopia.repository' || fail "rclone: no kopia.repository written"
echo "[image] $platform rclone: backup through the image's rclone written" >&2

size=$(podman image inspect --format '{{.Size}}' "$image")
echo "[image] $image ($platform): $((size / 1024 / 1024)) MiB" >&2
podman history --format '{{.Size}}\t{{.CreatedBy}}' "$image" | cut -c1-150 >&2
podman run --rm --network none --entrypoint sh "$image" -c 'du -sh /usr/local/bin/* /usr/lib/*-linux-gnu 2>/dev/null' >&2
