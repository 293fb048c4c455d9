#!/usr/bin/env bash
# Builds (only if missing) the real tools the tests need, from their Go modules and Debian packages,
# caches them by version outside the repository, and prints the folder holding them as the last line.
# Usage: provision.sh [kopia|minio|pushgateway|prometheus|cluster|node|backends|all]...   (default: all)
set -euo pipefail

KOPIA_VERSION=v0.23.1
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
ETCD_VERSION=v3.6.10
KUBE_VERSION=1.36.1
KWOK_VERSION=v0.8.0
CONTAINERD_VERSION=v2.2.7
FAKE_GCS_VERSION=v1.56.1
AZURITE_VERSION=3.37.0
OPENSSH_VERSION=9.2p1 # Debian bookworm's; any of its security updates is taken

cache="${KK_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kopia-k8s}"
bin="$cache/bin"
mkdir -p "$bin" "$cache/tools"
exec 9>"$cache/.provision.lock"
flock 9 # one provisioning at a time: a second run waits, then finds everything built
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" GOTOOLCHAIN=local

log() { printf '[provision] %s\n' "$*" >&2; }

# built <name> <version> <binary...>: true when every binary of that version is cached; links them into bin/.
built() {
  local dir="$cache/tools/$1-$2"; shift 2
  for b in "$@"; do [ -x "$dir/$b" ] || return 1; done
  for b in "$@"; do ln -sfn "$dir/$b" "$bin/$b"; done
}

# build <name> <version> <script> <binary...>: runs script with $out set, atomically publishes $out.
build() {
  local name=$1 version=$2 script=$3; shift 3
  built "$name" "$version" "$@" && return 0
  local dir="$cache/tools/$name-$version" started=$SECONDS
  local out; out=$(mktemp -d "$cache/tools/.$name-XXXXXX")
  log "building $name $version (cold build; cached afterwards)"
  if ! (export out; eval "$script") >&2; then rm -rf "$out"; log "building $name $version failed"; return 1; fi
  rm -rf "$dir"; mv "$out" "$dir"
  built "$name" "$version" "$@"
  log "built $name $version in $((SECONDS - started))s"
}

wrapper_module() { # a throwaway module outside the repo, so replace directives of the target don't apply
  local d; d=$(mktemp -d); cd "$d"; go mod init local/build >/dev/null 2>&1
}

# go_build <version> <package...>: builds the packages at that version into $out. Not `go install
# pkg@version`: that asks the proxy for the module's version list, which is refused for some modules.
go_build() {
  local version=$1; shift
  wrapper_module
  go get "${@/%/@$version}" >/dev/null 2>&1 || go get "${@/%/@$version}"
  go build -o "$out/" "$@"
}

provision_kopia() {
  build kopia "$KOPIA_VERSION" \
    'GOFLAGS="$GOFLAGS -tags=nohtmlui" go_build '"$KOPIA_VERSION"' github.com/kopia/kopia' kopia
}

provision_minio() {
  build minio "$MINIO_VERSION" \
    'go_build '"$MINIO_VERSION"' github.com/minio/minio' minio
}

provision_pushgateway() {
  if ! command -v prometheus-pushgateway >/dev/null; then
    log "installing Debian package prometheus-pushgateway"
    apt_install prometheus-pushgateway
  fi
  # Debian's package starts a system service on :9091; tests run their own instance on a free port.
  (systemctl disable --now prometheus-pushgateway 2>/dev/null || service prometheus-pushgateway stop 2>/dev/null || true) >/dev/null 2>&1
  ln -sfn "$(command -v prometheus-pushgateway)" "$bin/pushgateway"
}

# Prometheus and promtool for the alert tests (test/monitoring): Debian's package, like the Pushgateway.
provision_prometheus() {
  if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    log "installing Debian package prometheus (brings promtool)"
    apt_install prometheus
  fi
  # The package starts a system service on :9090 (and pulls in node_exporter's); tests run their own.
  (systemctl disable --now prometheus prometheus-node-exporter 2>/dev/null || { service prometheus stop; service prometheus-node-exporter stop; } 2>/dev/null || true) >/dev/null 2>&1
  ln -sfn "$(command -v prometheus)" "$bin/prometheus"
  ln -sfn "$(command -v promtool)" "$bin/promtool"
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1
    apt-get install -y -qq --no-install-recommends "$@" >&2
  }
}

provision_cluster() {
  build etcd "$ETCD_VERSION" \
    'go_build '"$ETCD_VERSION"' go.etcd.io/etcd/server/v3 && mv "$out/server" "$out/etcd"' etcd
  build kwok "$KWOK_VERSION" \
    'go_build '"$KWOK_VERSION"' sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl' kwok kwokctl
  build kubernetes "v$KUBE_VERSION" 'build_kubernetes' kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet
}

build_kubernetes() {
  wrapper_module
  local gomod minor=${KUBE_VERSION#1.}
  local commands=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet)
  local packages=("${commands[@]/#/k8s.io/kubernetes/cmd/}")
  gomod=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",$/\1/p')
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local folders;
  # point each at its published version instead.
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$gomod"); do
    go mod edit "-replace=$m=$m@v0.$minor"
  done
  go get "${packages[@]/%/@v$KUBE_VERSION}" >/dev/null 2>&1 || go get "${packages[@]/%/@v$KUBE_VERSION}"
  local major=${KUBE_VERSION%%.*} kminor=${minor%%.*}
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=v$KUBE_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$kminor -X $p.gitTreeState=clean"
  done
  go build -tags selinux,notest -ldflags "$ld" -o "$out/" "${packages[@]}"
}

# A real node beside the kwok ones (test/support/real-node.ts): containerd with ctr and the runc shim,
# Debian's runc and CNI plugins (/usr/lib/cni), and a static pause binary packed as a docker-archive
# image (pause.tar beside it) for `ctr images import`. containerd 2.x, not Debian's 1.6.20: kubelet
# 1.36 still runs with 1.6 (tried: it falls back to its own cgroupDriver because 1.6 lacks the CRI
# RuntimeConfig call), but counts that as "losing support in 1.37.0"; and 1.6 is past end of life.
provision_node() {
  command -v runc >/dev/null || { log "installing Debian package runc"; apt_install runc; }
  [ -x /usr/lib/cni/bridge ] || { log "installing Debian package containernetworking-plugins"; apt_install containernetworking-plugins; }
  command -v gcc >/dev/null || { log "installing Debian packages gcc libc6-dev"; apt_install gcc libc6-dev; }
  build containerd "$CONTAINERD_VERSION" \
    'GOFLAGS="$GOFLAGS -tags=no_btrfs" go_build '"$CONTAINERD_VERSION"' github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/ctr github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2' \
    containerd ctr containerd-shim-runc-v2
  build pause "v$KUBE_VERSION" 'build_pause' pause
}

build_pause() {
  local src layer config digest tmp
  src=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/.*"Dir": "\(.*\)",$/\1/p')/build/pause/linux/pause.c
  gcc -Os -Wall -Werror -static -DVERSION="v$KUBE_VERSION" -o "$out/pause" "$src"
  strip "$out/pause"
  # A docker-archive (what `docker save` writes): one layer holding /pause, its config and a manifest.
  tmp=$(mktemp -d)
  mkdir "$tmp/rootfs" "$tmp/image" && cp "$out/pause" "$tmp/rootfs/pause"
  tar -C "$tmp/rootfs" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$tmp/layer.tar" pause
  layer=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
  mkdir "$tmp/image/$layer" && mv "$tmp/layer.tar" "$tmp/image/$layer/layer.tar"
  config='{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:'"$layer"'"]}}'
  digest=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
  printf '%s' "$config" >"$tmp/image/$digest.json"
  printf '[{"Config":"%s.json","RepoTags":["localhost/kk-pause:v%s"],"Layers":["%s/layer.tar"]}]' "$digest" "$KUBE_VERSION" "$layer" >"$tmp/image/manifest.json"
  tar -C "$tmp/image" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$out/pause.tar" .
  rm -rf "$tmp"
}

# Storage servers the backend tests run on 127.0.0.1 (test/support/{sshd,azurite,fake-gcs,webdav}.ts).
provision_backends() {
  # OpenSSH's sshd unpacked, not installed: the package would start a system sshd on port 22.
  # ssh-keygen comes from the client package of the same version, for the keys the tests make.
  build openssh "$OPENSSH_VERSION" 'unpack_debs openssh-server openssh-client && mv "$out/root/usr/sbin/sshd" "$out/root/usr/bin/ssh-keygen" "$out/" && rm -rf "$out/root"' sshd ssh-keygen
  ldconfig -p | grep -q 'libwrap\.so\.0 ' || { log "installing Debian package libwrap0 (a library sshd links to)"; apt_install libwrap0; }
  build azurite "$AZURITE_VERSION" 'build_azurite' azurite-blob
  build fake-gcs-server "$FAKE_GCS_VERSION" \
    'go_build '"$FAKE_GCS_VERSION"' github.com/fsouza/fake-gcs-server' fake-gcs-server
  # rclone serves WebDAV for the webdav tests and is the program kopia's rclone backend runs.
  command -v rclone >/dev/null || { log "installing Debian package rclone"; apt_install rclone; }
  ln -sfn "$(command -v rclone)" "$bin/rclone"
}

# unpack_debs <package...>: the candidate .deb of each, unpacked into $out/root (dpkg -x: no
# maintainer scripts run, nothing is registered as installed).
unpack_debs() {
  local tmp deb; tmp=$(mktemp -d); cd "$tmp"
  apt-get download -qq "$@" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1; apt-get download -qq "$@" >&2; }
  for deb in "$tmp"/*.deb; do
    case "$(dpkg-deb -f "$deb" Version)" in
      *:"$OPENSSH_VERSION"-*) ;;
      *) log "$(basename "$deb"): not OpenSSH $OPENSSH_VERSION; update OPENSSH_VERSION in provision.sh"; return 1 ;;
    esac
    dpkg -x "$deb" "$out/root"
  done
  rm -rf "$tmp"
}

# Azurite from npm (it needs node, which npm brings), started through a launcher in bin/.
build_azurite() {
  npm install --prefix "$out" --no-save --no-audit --no-fund --omit=dev --loglevel=error "azurite@$AZURITE_VERSION" >&2 || return 1
  printf '#!/bin/sh\nexec node "$(dirname "$(readlink -f "$0")")/node_modules/azurite/dist/src/blob/main.js" "$@"\n' >"$out/azurite-blob"
  chmod +x "$out/azurite-blob"
}

targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(all)
for t in "${targets[@]}"; do
  case "$t" in
    kopia) provision_kopia ;;
    minio) provision_minio ;;
    pushgateway) provision_pushgateway ;;
    prometheus) provision_prometheus ;;
    cluster) provision_cluster ;;
    node) provision_node ;;
    backends) provision_backends ;;
    all) provision_kopia; provision_minio; provision_pushgateway; provision_prometheus; provision_cluster; provision_node; provision_backends ;;
    *) echo "provision: unknown target '$t' (use kopia, minio, pushgateway, prometheus, cluster, node, backends or all)" >&2; exit 2 ;;
  esac
done
echo "$bin"
