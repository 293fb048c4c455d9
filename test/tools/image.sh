#!/usr/bin/env bash
# npm run image: builds the top-level Dockerfile with podman for each platform of KK_IMAGE_PLATFORMS
# (default linux/amd64,linux/arm64) as <image>-<os>-<arch>, gathers them into the manifest list
# <image> (which podman resolves to this machine's platform for run and save), then smoke-tests each.
# No registry is reachable here, so the Dockerfile's default base images are stood in locally
# under their own names (Debian bookworm from debootstrap; Go and Node copied from this machine's
# toolchains on top of it) and the build runs with --pull=never: the Dockerfile is used unchanged.
# Another architecture's Debian is stood in under a name of its own, given as RUNTIME_IMAGE.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="$PWD/test/tools/podman/containers.conf"
image="${KK_IMAGE:-localhost/kopia-k8s:0.1.0}"
IFS=, read -ra platforms <<<"${KK_IMAGE_PLATFORMS:-linux/amd64,linux/arm64}"
host_platform=linux/$(go env GOHOSTARCH)
log() { printf '[image] %s\n' "$*" >&2; }
started=$SECONDS

need() { command -v "$1" >/dev/null || { log "installing $2"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $2 >/dev/null 2>&1 || { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $2 >/dev/null; }; }; }
need podman "podman runc uidmap"
need runc runc
need debootstrap debootstrap

has_image() { podman image exists "$1"; }

# standin_debian <image> <arch>: Debian bookworm (minbase) for that architecture; another
# architecture's second stage runs under emulation (provision.sh arm64 registers it).
standin_debian() {
  local name=$1 arch=$2 rootfs
  has_image "$name" && return 0
  log "standing in $name (debootstrap --arch=$arch --variant=minbase bookworm)"
  rootfs=$(mktemp -d)
  debootstrap --arch="$arch" --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  # This machine reaches registries through a TLS-inspecting egress proxy: its stand-ins trust the
  # same CA bundle as the host (a real debian image needs nothing of the sort).
  mkdir -p "$rootfs/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
  tar -C "$rootfs" -c . | podman import --os linux --arch "$arch" --change 'CMD ["bash"]' - "$name" >/dev/null
  rm -rf "$rootfs"
}
standin_debian docker.io/library/debian:bookworm-slim "${host_platform#linux/}"

# standin <image> <context dir> <Containerfile text>: a base image made FROM the Debian stand-in.
standin() {
  local name=$1 context=$2 containerfile=$3
  has_image "$name" && return 0
  log "standing in $name from this machine's toolchain"
  printf '%s\n' "$containerfile" | podman build --pull=never --isolation chroot -q -t "$name" -f - "$context" >/dev/null
}
goroot=$(go env GOROOT)
standin docker.io/library/golang:1.26-bookworm "$goroot" "FROM docker.io/library/debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates git && rm -rf /var/lib/apt/lists/*
COPY . /usr/local/go
ENV GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GOTOOLCHAIN=local"
node_context=$(mktemp -d)
cp "$(command -v node)" "$node_context/node"
cp -r "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$node_context/npm"
standin docker.io/library/node:20-bookworm-slim "$node_context" "FROM docker.io/library/debian:bookworm-slim
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx"
rm -rf "$node_context"

for platform in "${platforms[@]}"; do
  arch=${platform#linux/} runtime_arg=() platform_started=$SECONDS
  case "$platform" in linux/amd64 | linux/arm64) ;; *) log "KK_IMAGE_PLATFORMS: '$platform' is not supported (use linux/amd64,linux/arm64)"; exit 2 ;; esac
  if [ "$platform" != "$host_platform" ]; then
    bash test/tools/provision.sh arm64 >/dev/null
    standin_debian "localhost/kk-standin/debian:bookworm-slim-$arch" "$arch"
    runtime_arg=(--build-arg "RUNTIME_IMAGE=localhost/kk-standin/debian:bookworm-slim-$arch")
  fi
  log "building $image-linux-$arch"
  # The host's Go module and build caches make the kopia stage a warm build (it is the same kopia).
  # BUILDPLATFORM is given because podman 4.3 does not set it for FROM --platform (Docker does).
  podman build --pull=never --isolation chroot --platform "$platform" --build-arg "BUILDPLATFORM=$host_platform" "${runtime_arg[@]}" \
    -t "$image-linux-$arch" -v "$(go env GOMODCACHE):/go/pkg/mod" -v "$(go env GOCACHE):/root/.cache/go-build" . >&2
  log "built $image-linux-$arch in $((SECONDS - platform_started))s"
done

# The manifest list takes the name; an image left under it by an older build loses only that name.
if podman manifest exists "$image"; then podman manifest rm "$image" >/dev/null
elif has_image "$image"; then podman untag "$image" "$image"; fi
podman manifest create "$image" >/dev/null
for platform in "${platforms[@]}"; do
  podman manifest add "$image" "containers-storage:$image-linux-${platform#linux/}" >/dev/null
done
log "built $image (${platforms[*]}) in $((SECONDS - started))s"

for platform in "${platforms[@]}"; do
  bash test/tools/image-smoke.sh "$image-linux-${platform#linux/}" "$platform"
done
