# kopia-k8s: operator-backup, operator-restore, kopia-backup, kopia-maintenance and kopia-restore (Bun single executables) with kopia.
# Build: docker build -t kopia-k8s:0.1.0 .   (base images are build arguments)
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm
ARG NODE_IMAGE=docker.io/library/node:20-bookworm-slim
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

# kopia, pinned to the version the tests use, built from its Go module (no web UI).
FROM ${GO_IMAGE} AS kopia
ARG KOPIA_VERSION=v0.23.1
WORKDIR /build
RUN go mod init local/kopia-build \
 && go get github.com/kopia/kopia@${KOPIA_VERSION} \
 && CGO_ENABLED=0 go build -trimpath -tags nohtmlui -ldflags "-s -w" -o /out/kopia github.com/kopia/kopia \
 && /out/kopia --version

# The scripts, compiled by Bun (installed from npm as a devDependency).
FROM ${NODE_IMAGE} AS scripts
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/ scripts/
COPY shared/ shared/
COPY test/tools/build.ts test/tools/build.ts
RUN npm run build

FROM ${RUNTIME_IMAGE}
# bash: zx runs commands through it. ca-certificates: TLS to object stores. rclone: kopia runs it
# for rclone: repositories (Debian's build, the one the tests use; 56 MiB of the image's 586).
RUN apt-get update \
 && apt-get install -y --no-install-recommends bash ca-certificates rclone \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/*
COPY --from=kopia /out/kopia /usr/local/bin/kopia
COPY --from=scripts /src/dist/operator-backup /src/dist/operator-restore /src/dist/kopia-backup /src/dist/kopia-maintenance /src/dist/kopia-restore /usr/local/bin/
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
