# linxdot-exporter in an empty image: the static (musl) binary, nothing else.
# No base image to pull, nothing downloaded or compiled at build time: the
# binary is built beforehand by scripts/build-static.sh and staged in
# dist/image/<TARGETARCH><TARGETVARIANT>/ (amd64, 386, arm64, armv7, armv6) by
# scripts/build-image.sh, which builds and tags the images with docker
# (buildx) or podman, and with podman their manifest list:
#
#   scripts/build-image.sh            # -> linxdot-exporter:VERSION, :latest
#   docker run -d --name linxdot-exporter -p 8061:8061 \
#       -e MINER_HOST=192.168.1.20 -e MINER_USERNAME=admin \
#       -e MINER_PASSWORD_FILE=/run/secrets/miner_password \
#       -v "$PWD/miner_password:/run/secrets/miner_password:ro" \
#       linxdot-exporter
#
# Every flag works after the image name (docker run IMAGE -o HOST -u USER
# --password-file FILE ...), every variable of `--help` with -e.
# docs/install.md, "Docker", has the details (password file, TEMPer sticks).
FROM scratch

# Set by the engine from --platform (docker buildx, podman build): amd64,
# 386, arm64 with no variant; arm with v7 or v6.
ARG TARGETARCH
ARG TARGETVARIANT=""
# Passed by scripts/build-image.sh (Cargo.toml's version).
ARG VERSION=unknown

LABEL org.opencontainers.image.title="linxdot-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Linxdot LoRaWAN miners and PCsensor TEMPer USB sensors" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"

COPY dist/image/${TARGETARCH}${TARGETVARIANT}/linxdot-exporter /linxdot-exporter

# The exporter listens on 8061 (-t / EXPORTER_PORT) on all addresses.
EXPOSE 8061
# nobody: the exporter needs no privileges. A TEMPer stick passed in with
# --device /dev/hidrawN must be readable and writable by it: add the
# device's group with --group-add (see docs/install.md).
USER 65534:65534
# `docker stop` sends SIGTERM: the exporter takes it (and SIGINT) itself,
# logs "stopping on SIGTERM" and exits 0, even as PID 1 of the container.
ENTRYPOINT ["/linxdot-exporter"]
