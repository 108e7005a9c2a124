# kiosk: the only public face (kiosk and staff pages, WebSocket sessions). Pure Rust.
#
#   docker build -f docker/kiosk.Dockerfile -t edge-shopping-assistant/kiosk:0.1.0 .
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts. Models are
# never in an image; this service loads none.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
# x86-64-v3 (AVX2, FMA) suits store nodes from 2015 on; x86-64-v2 for older Atoms and
# Celerons (docs/deploy-k3s.md shows how to check a node).
ARG TARGET_CPU=x86-64-v3
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS="-C target-cpu=${TARGET_CPU}" cargo build --release --locked -p kiosk \
 && install -D -m 0755 target/release/kiosk /out/kiosk

FROM ${RUNTIME_IMAGE}
# ca-certificates: HTTPS to an OTLP collector (telemetry.otlp_endpoint).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin shop
COPY --from=builder /out/kiosk /usr/local/bin/kiosk
# Fail the build if a shared library the binary links is missing.
RUN ! ldd /usr/local/bin/kiosk | grep 'not found'
ENV SHOP_MODELS_DIR=/models \
    SHOP_DATA_DIR=/data \
    SHOP_KIOSK__HOST=0.0.0.0
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/kiosk"]
