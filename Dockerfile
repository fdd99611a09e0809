# One image for every hookline command: `docker run hookline:local <command> [flags]`.
# Build: docker build -t hookline:local .

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static: the runtime image has no libc.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/hookline ./cmd/hookline

# distroless static: CA certificates and tzdata, no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hookline /usr/local/bin/hookline
# 65532 is distroless's nonroot user.
USER 65532:65532
# 8080: hookline api; 9090: the ops server (/metrics, /healthz, /readyz) of api, dispatcher, retrier.
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/hookline"]
