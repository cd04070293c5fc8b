# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, run in a slim Debian image as user 999
# (the reference image's "opuser"), so the reference manifests' secret mounts work unchanged.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY config ./config
COPY tests ./tests
ARG SCIM_BRIDGE_BUILD=container
ENV SCIM_BRIDGE_BUILD=${SCIM_BRIDGE_BUILD}
RUN cargo build --release --locked --bin scim-bridge

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 999 opuser \
 && useradd --uid 999 --gid 999 --create-home --home-dir /home/opuser opuser \
 && mkdir -p /home/opuser/.op /home/opuser/data \
 && chown -R 999:999 /home/opuser
COPY --from=build /src/target/release/scim-bridge /usr/local/bin/scim-bridge
USER 999:999
WORKDIR /home/opuser
# The session file is mounted here as a secret (see docker-compose.yml and deploy/).
ENV OP_SESSION=/home/opuser/.op/scimsession \
    OP_DATA_DIR=/home/opuser/data \
    OP_PORT=3002 \
    OP_HTTPS_PORT=8443
EXPOSE 3002 8443
# `ping` asks this container's own plain-HTTP port (OP_PORT) for /ping on loopback, also with
# OP_TLS_DOMAIN set: 0 when it answers "pong" within 2 s, else 1.
HEALTHCHECK --interval=30s --timeout=3s CMD ["/usr/local/bin/scim-bridge", "ping"]
ENTRYPOINT ["/usr/local/bin/scim-bridge"]
CMD ["serve"]
