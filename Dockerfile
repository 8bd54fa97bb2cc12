# syntax=docker/dockerfile:1

# Build stage: a static erasure binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/erasure ./cmd/erasure

# Run stage: debian-slim rather than distroless so that curl is available
# for the /readyz container healthcheck.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/erasure /erasure
# Named volumes mounted here start with this ownership, so the unprivileged user can write.
RUN mkdir -p /data /photos && chown 65532:65532 /data /photos
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/erasure"]
CMD ["serve"]
