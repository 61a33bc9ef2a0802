# syntax=docker/dockerfile:1
# mfadesk container image: a static binary on distroless, non-root, no shell.
#   docker build -t mfadesk:1.0.0 --build-arg VERSION=1.0.0 .
#   docker run --read-only -v mfadesk-data:/var/lib/mfadesk \
#     -v ./mfadesk.yaml:/etc/mfadesk/mfadesk.yaml:ro -p 8080:8080 mfadesk:1.0.0
# Pin both base images by digest (image@sha256:…) in your own build for a
# reproducible supply chain.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first: this layer is reused while only the code changes.
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
ARG VERSION=dev
# Static (no cgo), no local paths in the binary, no symbol tables.
RUN CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -tags grpcnotrace -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/mfadesk ./cmd/mfadesk
# The state directory, made here (the runtime has no shell) and owned by the
# runtime user, so a fresh named volume mounted on it is writable.
RUN mkdir -p /out/state && chmod 0700 /out/state

# distroless/static: CA certificates, tzdata and /etc/passwd with a nonroot user
# (65532), and nothing else — no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mfadesk /usr/local/bin/mfadesk
COPY --from=build --chown=65532:65532 /out/state /var/lib/mfadesk
# The bbolt database (requests and the audit log) lives on a volume; the root
# filesystem can be mounted read-only. Set database: /var/lib/mfadesk/mfadesk.db
# and listen: 0.0.0.0:8080 in the config.
VOLUME ["/var/lib/mfadesk"]
WORKDIR /var/lib/mfadesk
USER 65532:65532
EXPOSE 8080
# Probes: GET /healthz (alive) and GET /readyz (ready); there is no shell for a
# HEALTHCHECK command, so use the orchestrator's HTTP probes.
ENTRYPOINT ["/usr/local/bin/mfadesk"]
CMD ["serve", "--config", "/etc/mfadesk/mfadesk.yaml"]
