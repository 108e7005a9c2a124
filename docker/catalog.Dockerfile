# catalog: products, live inventory and consenting customers; the only owner of the
# vector store (a Qdrant server on k3s, or the embedded engine). MiniLM runs on candle
# (pure Rust), Qdrant's engine too: no system libraries beyond libc.
#
#   docker build -f docker/catalog.Dockerfile -t edge-shopping-assistant/catalog:0.1.0 .
#
# A cold build takes about 10 minutes on 2 cores (qdrant-edge). The model
# (all-minilm-l6-v2) is not in the image: mount the models volume at /models.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
ARG TARGET_CPU=x86-64-v3
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS="-C target-cpu=${TARGET_CPU}" cargo build --release --locked -p catalog \
 && install -D -m 0755 target/release/catalog /out/catalog

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin shop
COPY --from=builder /out/catalog /usr/local/bin/catalog
RUN ! ldd /usr/local/bin/catalog | grep 'not found'
ENV SHOP_MODELS_DIR=/models \
    SHOP_DATA_DIR=/data \
    SHOP_CATALOG__HOST=0.0.0.0
USER 10001:10001
EXPOSE 8084
# `catalog` serves; `catalog ingest FILE --url URL` loads a catalogue into a running one.
ENTRYPOINT ["/usr/local/bin/catalog"]
