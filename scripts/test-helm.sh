#!/usr/bin/env bash
# Tests of the Helm chart (helm/): lint, render every store and scenario, validate each
# output offline against the Kubernetes schemas in strict mode, assert the chart's
# invariants, and check that wrong values are rejected (tests/helm/check_chart.py).
#
#   scripts/test-helm.sh
#
# The tools (helm, kubernetes-validate) are installed once into a cache outside the
# repository by scripts/helm-tools.sh, then reused offline. KUBE_VERSION picks the
# schemas (default 1.31.0, k3s v1.31).
set -euo pipefail
cd "$(dirname "$0")/.."

kube_version="${KUBE_VERSION:-1.31.0}"
# helm and kubernetes-validate ($helm, $venv), installed once.
. scripts/helm-tools.sh

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# HELM_* caches in the throwaway folder: nothing is written to the user's helm config.
export HELM_CACHE_HOME="$out/helm-cache" HELM_CONFIG_HOME="$out/helm-config" HELM_DATA_HOME="$out/helm-data"
"$venv/bin/python" tests/helm/check_chart.py \
    --helm "$helm" \
    --kubernetes-validate "$venv/bin/kubernetes-validate" \
    --kube-version "$kube_version" \
    --out "$out/rendered"
