# kopia-k8s: operator-backup, operator-restore, kopia-backup, kopia-maintenance and kopia-restore (Bun single executables) with kopia.
# Build: docker buildx build --platform linux/amd64,linux/arm64 -t kopia-k8s:0.1.0 .   (base images are build arguments)
# The Go and Bun stages run on the build platform and cross-compile for the target; the target's own
# stage only copies files, so building for another architecture needs no emulation.
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm
ARG NODE_IMAGE=docker.io/library/node:20-bookworm-slim
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim
ARG BUILDPLATFORM
ARG TARGETPLATFORM

# kopia, pinned to the version the tests use, built from its Go module (no web UI).
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS kopia
ARG KOPIA_VERSION=v0.23.1
WORKDIR /build
RUN go mod init local/kopia-build \
 && go get github.com/kopia/kopia@${KOPIA_VERSION}
ARG TARGETOS TARGETARCH
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -tags nohtmlui -ldflags "-s -w" -o /out/kopia github.com/kopia/kopia

# The scripts, compiled by Bun (installed from npm as a devDependency).
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS scripts
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/ scripts/
COPY shared/ shared/
COPY test/tools/build.ts test/tools/build.ts
ARG TARGETOS TARGETARCH
RUN npm run build -- --platform ${TARGETOS}/${TARGETARCH}

# What the runtime adds to Debian, gathered on the build platform from Debian's packages (any
# bookworm does; the Go stage's is at hand): CA certificates for TLS to object stores (architecture
# "all") and the target's rclone, which kopia runs for rclone: repositories (Debian's build, the one
# the tests use). Their package records go to /var/lib/dpkg/status.d/, where image scanners read them.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS runtime-files
ARG TARGETARCH
WORKDIR /debs
RUN dpkg --add-architecture ${TARGETARCH} \
 && apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && update-ca-certificates --fresh >/dev/null \
 && chown _apt /debs && apt-get download rclone:${TARGETARCH} \
 && mkdir -p /rootfs/usr/bin /rootfs/etc/ssl /rootfs/usr/share /rootfs/var/lib/dpkg/status.d \
 && dpkg-deb --fsys-tarfile rclone_*.deb | tar -x -C /rootfs ./usr/bin/rclone \
 && { dpkg-deb -f rclone_*.deb; echo "Status: install ok installed"; } >/rootfs/var/lib/dpkg/status.d/rclone \
 && dpkg -s ca-certificates >/rootfs/var/lib/dpkg/status.d/ca-certificates \
 && cp -a /etc/ssl/certs /rootfs/etc/ssl/ \
 && cp -a /usr/share/ca-certificates /rootfs/usr/share/ \
 && cp -a /etc/ca-certificates.conf /rootfs/etc/

# The target platform's Debian (bash, which zx runs commands through, is part of it), plus files only.
FROM --platform=$TARGETPLATFORM ${RUNTIME_IMAGE}
COPY --from=runtime-files /rootfs/ /
COPY --from=kopia /out/kopia /usr/local/bin/kopia
ARG TARGETOS TARGETARCH
COPY --from=scripts /src/dist/${TARGETOS}-${TARGETARCH}/ /usr/local/bin/
# Bun reads extra CAs at start-up only: in a pod, trust the cluster's CA for the API server.
ENV NODE_EXTRA_CA_CERTS=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt \
    KOPIA_CHECK_FOR_UPDATES=false \
    KOPIA_PERSIST_CREDENTIALS_ON_CONNECT=false \
    KK_CONFIG_PATH=/kopia/config \
    KK_KOPIA_CACHE_PATH=/kopia/cache \
    KK_KOPIA_LOG_PATH=/kopia/logs \
    HOME=/kopia
# Writable state on volumes, so the root filesystem can be read-only.
VOLUME ["/kopia", "/tmp"]
WORKDIR /kopia
CMD ["operator-backup", "--help"]
