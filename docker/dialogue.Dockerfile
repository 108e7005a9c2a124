# dialogue: grounded, tool-using conversation on llama.cpp (or a remote
# OpenAI-compatible server).
#
#   docker build -f docker/dialogue.Dockerfile -t edge-shopping-assistant/dialogue:0.1.0 .
#
# The GGUF model is not in the image: mount the models volume at /models.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
# llama-cpp-sys-2 compiles ggml for TARGET_CPU (it passes -march from target-cpu and
# turns GGML_NATIVE off). x86-64-v3 gives AVX2 and FMA, which the README's 144 tokens/s
# assume; x86-64-v2 for CPUs without AVX2.
ARG TARGET_CPU=x86-64-v3
# cmake, clang, libclang-dev, pkg-config: llama.cpp is built by CMake and bound with bindgen.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake clang libclang-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS="-C target-cpu=${TARGET_CPU}" cargo build --release --locked -p dialogue \
 && install -D -m 0755 target/release/dialogue /out/dialogue

FROM ${RUNTIME_IMAGE}
# llama.cpp is linked statically (no OpenMP: llama-cpp-2 is built without it);
# ca-certificates for an https remote back end (dialogue.remote_url).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin shop
COPY --from=builder /out/dialogue /usr/local/bin/dialogue
RUN ! ldd /usr/local/bin/dialogue | grep 'not found'
ENV SHOP_MODELS_DIR=/models \
    SHOP_DATA_DIR=/data \
    SHOP_DIALOGUE__HOST=0.0.0.0
USER 10001:10001
EXPOSE 8083
ENTRYPOINT ["/usr/local/bin/dialogue"]
