# tryon: the customer wearing a chosen garment (OpenCV compositing), and garment images
# generated from a prompt.
#
#   docker build -f docker/tryon.Dockerfile -t edge-shopping-assistant/tryon:0.1.0 .
#
# It loads no model file; the Haar cascade comes from Debian's opencv-data.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
ARG TARGET_CPU=x86-64-v3
# clang, libclang-dev, pkg-config, libopencv-dev: the opencv crate's bindings.
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang libclang-dev pkg-config libopencv-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS="-C target-cpu=${TARGET_CPU}" cargo build --release --locked -p tryon \
 && install -D -m 0755 target/release/tryon /out/tryon \
 && docker/runtime-libs.sh /out/tryon /out/runtime

FROM ${RUNTIME_IMAGE}
# The shared libraries the binary links, copied from the builder with their copyright
# files (docker/runtime-libs.sh): Debian's OpenCV packages would bring GDAL, Mesa and
# LLVM by hard dependencies, none of which the service loads.
# opencv-data: the Haar cascade for the face.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates opencv-data \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin shop
COPY --from=builder /out/runtime/ /
COPY --from=builder /out/tryon /usr/local/bin/tryon
RUN --mount=type=bind,source=docker/runtime-libs.sh,target=/tmp/runtime-libs.sh \
    sh /tmp/runtime-libs.sh prune \
 && ! ldd /usr/local/bin/tryon | grep 'not found'
ENV SHOP_MODELS_DIR=/models \
    SHOP_DATA_DIR=/data \
    SHOP_TRYON__HOST=0.0.0.0
USER 10001:10001
EXPOSE 8085
ENTRYPOINT ["/usr/local/bin/tryon"]
