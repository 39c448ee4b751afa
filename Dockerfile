# Arbor: a small image that runs as non-root.
#   docker build -t arbor .
#   docker run -p 8080:8080 -v arbor-data:/data arbor --demo
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/arbor . \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/arbor /usr/local/bin/arbor
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV ARBOR_LISTEN=0.0.0.0:8080 ARBOR_DATA=/data
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/arbor", "serve"]
