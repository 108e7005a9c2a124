#!/usr/bin/env bash
# Release check of the container images: imports them into containerd (the runtime k3s
# uses) and runs every service as the chart's pods run it (read-only root, its own
# user, its ConfigMap and Secret, the models read-only), then checks that each one does
# its job, fits the chart's memory limit and stops cleanly on SIGTERM
# (tests/images/check_images.py). Prints a JSON summary.
#
#   scripts/images.sh build && scripts/check-images.sh            # the images built here
#   scripts/check-images.sh shop-images-0.1.0.tar                 # an archive to import
#   CONTAINERD_ADDRESS=/run/k3s/containerd/containerd.sock scripts/check-images.sh
#                                                                 # on a k3s node, its images
#
# Needs root (containerd mounts the images' layers), containerd and ctr (Debian:
# containerd runc), the chart's tools (scripts/test-helm.sh installs them) and the models
# (scripts/setup.sh). Not part of the README's test command: building the images takes
# about an hour on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${SHOP_TOOLS_DIR:-$HOME/.cache/edge-shopping-assistant/tools}"
helm="$tools/helm-v3.17.3/helm"
python="$tools/kubernetes-validate-1.37.0/bin/python"
models="${SHOP_MODELS_DIR:-$PWD/models}"

[ "$(id -u)" -eq 0 ] || { echo "check-images: run as root (containerd mounts image layers)" >&2; exit 1; }
command -v containerd >/dev/null && command -v runc >/dev/null \
    || { echo "check-images: needs containerd and runc (apt-get install containerd runc)" >&2; exit 1; }
if [ ! -x "$helm" ] || [ ! -x "$python" ]; then
    echo "check-images: installing the chart's tools by running the chart's tests first" >&2
    scripts/test-helm.sh
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
"$python" tests/images/check_images.py --helm "$helm" --models "$models" \
    ${archive:+--archive "$archive"} ${CONTAINERD_ADDRESS:+--address "$CONTAINERD_ADDRESS"}
