# syntax=docker/dockerfile:1
#
# The pullkeys image: the release binaries of one commit, and pullkeys-installer, which copies
# them and a CredentialProviderConfig onto the node for clusters that install node software
# with a DaemonSet (deploy/daemonset). Baking the release archive into the node image is the
# first choice; see docs/install.md. Build from the repository's root:
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" \
#     -t <registry>/pullkeys:<tag> --push .
#
# Needs BuildKit (the default builder of Docker 23 and later). CI has no container engine and
# does not build this file; hack/release/release_test.go checks that it keeps running the
# release tool with a Go at least as new as go.mod's.

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The binaries are those of the release archive for this platform: same tool, same flags
# (static, -trimpath, no build ID), so the same bytes for the same commit, version and Go.
RUN arch="${TARGETARCH:-amd64}" \
 && go run ./hack/release -version "${VERSION}" -commit "${COMMIT}" -platforms "linux/${arch}" -out /dist \
 && mkdir -p /out/bin \
 && tar -xzf /dist/pullkeys_*_linux_${arch}.tar.gz -C /out/bin
RUN CGO_ENABLED=0 GOOS=linux GOARCH="${TARGETARCH:-amd64}" GOFLAGS= \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X github.com/pullkeys/pullkeys/providers.version=${VERSION} -X github.com/pullkeys/pullkeys/providers.commit=${COMMIT}" \
      -o /out/pullkeys-installer ./cmd/pullkeys-installer

# distroless/static: no shell, no package manager; CA certificates and /etc/passwd only. It runs
# as root by default, which the installer needs to write the host directories it is given.
FROM gcr.io/distroless/static-debian12
COPY --from=build /out/bin/ /pullkeys/bin/
COPY --from=build /out/pullkeys-installer /usr/local/bin/pullkeys-installer
ENTRYPOINT ["/usr/local/bin/pullkeys-installer"]
CMD ["--help"]
