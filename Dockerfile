# syntax=docker/dockerfile:1
# linxdot-exporter in an empty image: one static (musl) binary, nothing else.
#
#   docker build -t linxdot-exporter .
#   docker run -d --name linxdot-exporter -p 8061:8061 \
#       -e MINER_HOST=192.168.1.20 -e MINER_USERNAME=admin -e MINER_PASSWORD=... \
#       linxdot-exporter
#
# Builds natively for the platform being built for (docker buildx build
# --platform linux/arm64,linux/amd64 works, the foreign one under emulation).
# Not built by this project's CI, which has no Docker engine.

FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
# Alpine's Rust targets musl and links statically by default.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin linxdot-exporter \
    && cp target/release/linxdot-exporter /linxdot-exporter \
    && /linxdot-exporter --version

FROM scratch
COPY --from=build /linxdot-exporter /linxdot-exporter
# The upstream exporter's variables (see `linxdot-exporter --help` for all):
#   MINER_HOST       dashboard address, HOST or HOST:PORT
#   MINER_USERNAME   dashboard user
#   MINER_PASSWORD   dashboard password (or MINER_PASSWORD_FILE, e.g. a secret)
#   EXPORTER_DEBUG   debug log when set to anything but 0/false/no/off
# EXPORTER_PORT, EXPORTER_REFRESH, PLAIN_CREDENTIALS, EXPORTER_NO_TEMPER,
# TEMPER_OFFSETS and LOG_FILE work too. USB sensors need the device passed
# in (--device /dev/hidrawN); with none, only the dashboard is read.
ENV MINER_HOST="" \
    MINER_USERNAME="" \
    MINER_PASSWORD="" \
    EXPORTER_DEBUG="" \
    EXPORTER_PORT="8061"
EXPOSE 8061
# nobody: the exporter needs no privileges (a passed-in /dev/hidrawN must
# then be readable by it, e.g. --group-add with the device's group).
USER 65534:65534
ENTRYPOINT ["/linxdot-exporter"]
