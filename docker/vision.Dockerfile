# vision: faces (BlazeFace on OpenCV's dnn, dlib landmarks and embeddings) and garments
# (OpenCV) in camera frames.
#
#   docker build -f docker/vision.Dockerfile -t edge-shopping-assistant/vision:0.1.0 .
#
# Models (BlazeFace, dlib) are not in the image: mount the models volume at /models.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
ARG TARGET_CPU=x86-64-v3
# clang, libclang-dev, pkg-config, libopencv-dev: the opencv crate's bindings against
# Debian's OpenCV 4.6. libdlib-dev, libatlas-base-dev, liblapack-dev: dlib-face-recognition
# links dlib, cblas and lapack.
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang libclang-dev pkg-config libopencv-dev \
      libdlib-dev libatlas-base-dev liblapack-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS="-C target-cpu=${TARGET_CPU}" cargo build --release --locked -p vision \
 && install -D -m 0755 target/release/vision /out/vision \
 && docker/runtime-libs.sh /out/vision /out/runtime

FROM ${RUNTIME_IMAGE}
# The shared libraries the binary links, copied from the builder with their copyright
# files (docker/runtime-libs.sh): Debian's OpenCV packages would bring GDAL, Mesa and
# LLVM, and dlib's model data, by hard dependencies; the service loads none of them.
# opencv-data: the Haar cascade fallback (vision.face_cascade).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates opencv-data \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin shop
COPY --from=builder /out/runtime/ /
COPY --from=builder /out/vision /usr/local/bin/vision
RUN --mount=type=bind,source=docker/runtime-libs.sh,target=/tmp/runtime-libs.sh \
    sh /tmp/runtime-libs.sh prune \
 && ! ldd /usr/local/bin/vision | grep 'not found'
ENV SHOP_MODELS_DIR=/models \
    SHOP_DATA_DIR=/data \
    SHOP_VISION__HOST=0.0.0.0
USER 10001:10001
EXPOSE 8082
ENTRYPOINT ["/usr/local/bin/vision"]
