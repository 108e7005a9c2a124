# voice: speech to text (whisper.cpp) and text to speech (piper on ONNX Runtime, with
# espeak-ng phonemes).
#
#   docker build -f docker/voice.Dockerfile -t edge-shopping-assistant/voice:0.1.0 .
#
# Licence: the binary links espeak-ng (GPL-3.0-or-later), so this image carries
# GPL-3.0-or-later terms. Models (whisper, piper, Silero VAD) and the ONNX Runtime
# library are not in the image: mount the models volume at /models.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
ARG TARGET_CPU=x86-64-v3
# cmake, clang, libclang-dev, pkg-config: whisper.cpp and espeak-ng are built by CMake
# and bound with bindgen. libsonic-dev: espeak-ng links the system sonic instead of
# cloning it (../shared/BUILD-NOTES.md).
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake clang libclang-dev pkg-config libsonic-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# whisper.cpp's ggml would compile for the build machine's CPU (GGML_NATIVE): build for
# TARGET_CPU instead. espeak-rs-sys installs the espeak-ng-data it was built with next to
# its build output; ship that data, not Debian's 1.51 (it phonemises differently).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    set -e; \
    export GGML_NATIVE=OFF; \
    if [ "${TARGET_CPU}" = "x86-64-v3" ]; then \
      export GGML_AVX=ON GGML_AVX2=ON GGML_FMA=ON GGML_F16C=ON GGML_BMI2=ON; \
    fi; \
    RUSTFLAGS="-C target-cpu=${TARGET_CPU}" cargo build --release --locked -p voice; \
    install -D -m 0755 target/release/voice /out/bin/voice; \
    data="$(ls -td target/release/build/espeak-rs-sys-*/out/share/espeak-ng-data | head -n 1)"; \
    test -f "${data}/phontab"; \
    mkdir -p /out/share; \
    cp -r "${data}" /out/share/espeak-ng-data

FROM ${RUNTIME_IMAGE}
# libsonic0: espeak-ng's speed control, linked dynamically. whisper.cpp, espeak-ng and
# piper are linked statically; ONNX Runtime is loaded from /models at start.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libsonic0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin shop
COPY --from=builder /out/bin/voice /usr/local/bin/voice
COPY --from=builder /out/share/espeak-ng-data /usr/local/share/voice/espeak-ng-data
RUN ! ldd /usr/local/bin/voice | grep 'not found'
ENV SHOP_MODELS_DIR=/models \
    SHOP_DATA_DIR=/data \
    SHOP_VOICE__HOST=0.0.0.0 \
    PIPER_ESPEAKNG_DATA_DIRECTORY=/usr/local/share/voice
USER 10001:10001
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/voice"]
