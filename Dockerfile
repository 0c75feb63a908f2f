# Cellar, the RFC 9111 caching reverse proxy, in a container.
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t cellar .
#   docker run -p 8080:8080 -v cellar-data:/var/lib/cellar \
#     -e CELLAR_UPSTREAM=http://origin.internal:9000 cellar
#
# The image is a static binary on distroless (no shell, no package manager),
# run as the non-root user 65532. The disk store lives in the volume
# /var/lib/cellar. Every flag of `cellar serve` can be set as CELLAR_<FLAG>
# (-e CELLAR_MAX_SIZE=10GiB) or appended to the command (docker run ...
# cellar --max-size 10GiB).
#
# The admin listener (/metrics, /healthz, /purge) stays on the container's
# loopback by default, which no one outside can reach. To publish it, bind
# it to all interfaces inside the container, which requires a token, and
# publish the port on the host's loopback only:
#   docker run -p 8080:8080 -p 127.0.0.1:9090:9090 \
#     -e CELLAR_ADMIN=:9090 -e CELLAR_ADMIN_TOKEN=$(openssl rand -hex 24) ...

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
# A static binary: no cgo, so it runs on an image without a C library.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/cellar ./cmd/cellar \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cellar /usr/local/bin/cellar
COPY --from=build --chown=65532:65532 /out/data /var/lib/cellar
ENV CELLAR_LISTEN=:8080 \
    CELLAR_STORE=disk:/var/lib/cellar \
    CELLAR_LOG_FORMAT=json
VOLUME /var/lib/cellar
WORKDIR /var/lib/cellar
EXPOSE 8080 9090
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/cellar", "serve"]
