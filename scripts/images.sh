#!/usr/bin/env bash
# Container images of the services (docker/*.Dockerfile), and the archive an air-gapped
# store imports into k3s's containerd (docs/deploy-k3s.md, section 2).
#
#   scripts/images.sh build [IMAGE...]   # every image, or the ones named (kiosk voice ...)
#   scripts/images.sh save FILE          # one archive of the images, for `k3s ctr images import`
#   scripts/images.sh bases              # base images from Debian's archive (no Docker Hub)
#
# The engine is Docker (BuildKit) where a Docker engine answers, otherwise buildah, which
# needs no daemon (Debian: `apt-get install buildah`); IMAGE_ENGINE=docker|buildah picks.
# SHOP_IMAGE_VERSION tags the images (default: the chart's appVersion, which the chart
# asks for); TARGET_CPU is passed to the Dockerfiles (default x86-64-v3).
#
# `bases` is for build machines that reach Debian's archive but not Docker Hub: it makes
# localhost/debian:bookworm-slim with mmdebstrap and localhost/rust:<version>-bookworm
# from it plus this machine's Rust toolchain, and later builds use them. RUST_IMAGE and
# RUNTIME_IMAGE, when set, override the Dockerfiles' base images.
set -euo pipefail
cd "$(dirname "$0")/.."

images=(kiosk voice vision dialogue catalog tryon models)
repository="edge-shopping-assistant"
version="${SHOP_IMAGE_VERSION:-$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' helm/Chart.yaml)}"
target_cpu="${TARGET_CPU:-x86-64-v3}"
local_bases="$HOME/.cache/edge-shopping-assistant/images/bases.env"

say() { echo "images: $*" >&2; }
die() { say "$*"; exit 1; }

engine() {
    if [ -n "${IMAGE_ENGINE:-}" ]; then
        echo "$IMAGE_ENGINE"
    elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        echo docker
    elif command -v buildah >/dev/null; then
        echo buildah
    else
        die "no Docker engine answers and buildah is not installed (apt-get install buildah)"
    fi
}

build() {
    local engine selected=("$@") build_args=(--build-arg "TARGET_CPU=$target_cpu")
    engine="$(engine)"
    ((${#selected[@]})) || selected=("${images[@]}")
    for image in "${selected[@]}"; do
        [ -f "docker/$image.Dockerfile" ] || die "unknown image '$image' (one of: ${images[*]})"
    done
    # Bases made by `bases` on this machine, unless the caller names others.
    if [ -f "$local_bases" ]; then
        # shellcheck source=/dev/null
        . "$local_bases"
        RUST_IMAGE="${RUST_IMAGE:-$local_rust_image}"
        RUNTIME_IMAGE="${RUNTIME_IMAGE:-$local_runtime_image}"
    fi
    [ -z "${RUST_IMAGE:-}" ] || build_args+=(--build-arg "RUST_IMAGE=$RUST_IMAGE")
    [ -z "${RUNTIME_IMAGE:-}" ] || build_args+=(--build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE")
    for image in "${selected[@]}"; do
        # Fully qualified: buildah would otherwise name it localhost/..., which is not the
        # name the chart's pods ask containerd for.
        local tag="docker.io/$repository/$image:$version" started=$SECONDS
        say "building $tag with $engine (${build_args[*]})"
        case "$engine" in
            docker) DOCKER_BUILDKIT=1 docker build "${build_args[@]}" -f "docker/$image.Dockerfile" -t "$tag" . ;;
            # chroot isolation: RUN steps need no user namespace or OCI runtime set up;
            # --layers keeps the apt layers between builds, as Docker does.
            buildah) buildah bud --isolation chroot --layers "${build_args[@]}" \
                         -f "docker/$image.Dockerfile" -t "$tag" . ;;
            *) die "IMAGE_ENGINE must be docker or buildah, not '$engine'" ;;
        esac
        say "built $tag in $((SECONDS - started)) s"
    done
}

# One archive of every image, named as the chart asks for them: containerd stores
# edge-shopping-assistant/kiosk:0.1.0 as docker.io/edge-shopping-assistant/kiosk:0.1.0.
save() {
    local file="${1:?save needs a file to write, e.g. shop-images-$version.tar}" engine refs=()
    engine="$(engine)"
    for image in "${images[@]}"; do refs+=("docker.io/$repository/$image:$version"); done
    # Qdrant's official image, for stores whose catalog runs on a Qdrant server, when it
    # has been pulled here (docker pull qdrant/qdrant:<qdrant.image.tag>).
    local qdrant
    qdrant="docker.io/qdrant/qdrant:$(sed -n '/^qdrant:/,/^[a-z]/s/^    tag: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' helm/values.yaml | head -n 1)"
    # podman writes several images into one docker-archive; buildah alone cannot.
    local tool=docker
    if [ "$engine" = buildah ]; then
        command -v podman >/dev/null || die "saving several images needs podman (apt-get install podman)"
        tool=podman
    fi
    if "$tool" image inspect "$qdrant" >/dev/null 2>&1; then
        refs+=("$qdrant")
    else
        say "$qdrant is not here: stores with a Qdrant server import it separately"
    fi
    rm -f "$file"
    case "$tool" in
        docker) docker save -o "$file" "${refs[@]}" ;;
        podman) podman save --multi-image-archive --format docker-archive -o "$file" "${refs[@]}" ;;
    esac
    say "wrote $file ($(du -h "$file" | cut -f1)): ${refs[*]}"
}

bases() {
    if ! command -v mmdebstrap >/dev/null || ! command -v buildah >/dev/null; then
        die "bases needs mmdebstrap and buildah (apt-get install mmdebstrap buildah)"
    fi
    command -v rustc >/dev/null || die "bases copies this machine's Rust toolchain: rustc is not on PATH"
    local rust_version sysroot work runtime_image rust_image container
    rust_version="$(rustc --version | cut -d' ' -f2)"
    sysroot="$(rustc --print sysroot)"
    runtime_image="localhost/debian:bookworm-slim"
    rust_image="localhost/rust:$rust_version-bookworm"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' RETURN

    # As Docker's debian:bookworm-slim: minbase, without manuals, docs and translations,
    # and apt keeping neither its package caches nor the packages it installed (80 MB in
    # every image layer that runs apt-get otherwise). The options stay in the image, so
    # the Dockerfiles' apt-get installs follow them too.
    say "making $runtime_image from Debian's archive"
    # merged-usr hook: /usr merged by mmdebstrap itself, not by the usrmerge package,
    # which would bring perl (46 MB) into every image.
    mmdebstrap --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Languages "none"' \
        --aptopt='Dir::Cache::pkgcache ""' --aptopt='Dir::Cache::srcpkgcache ""' \
        --aptopt='DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; }' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb' \
        bookworm "$work/rootfs.tar"
    container="$(buildah from scratch)"
    buildah add "$container" "$work/rootfs.tar" / >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd bash "$container"
    buildah commit --rm "$container" "$runtime_image" >/dev/null

    # As Docker's rust:<version>-bookworm: compilers and git, the toolchain at the same
    # paths (CARGO_HOME=/usr/local/cargo, which the Dockerfiles' cache mounts use).
    say "making $rust_image from $runtime_image and the toolchain in $sysroot"
    tar -C "$sysroot" --exclude=./share/doc -cf "$work/toolchain.tar" .
    container="$(buildah from "$runtime_image")"
    buildah config --env CARGO_HOME=/usr/local/cargo \
        --env PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$container"
    buildah run --isolation chroot "$container" -- sh -c \
        'apt-get update -qq && apt-get install -y -qq build-essential ca-certificates curl git pkg-config libssl-dev >/dev/null && rm -rf /var/lib/apt/lists/*'
    buildah add "$container" "$work/toolchain.tar" /usr/local/rust >/dev/null
    # Certificate authorities this machine added (a TLS-inspecting proxy's, say): the
    # builder fetches crates the way this machine does. Only the builder has them; no
    # service image is built from it.
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
        buildah add "$container" /usr/local/share/ca-certificates /usr/local/share/ca-certificates >/dev/null
        buildah run --isolation chroot "$container" -- update-ca-certificates >/dev/null
    fi
    buildah run --isolation chroot "$container" -- sh -c \
        'mkdir -p /usr/local/cargo/bin && for tool in /usr/local/rust/bin/*; do ln -s "$tool" /usr/local/cargo/bin/; done && cargo --version && rustc --version'
    buildah commit --rm "$container" "$rust_image" >/dev/null

    mkdir -p "$(dirname "$local_bases")"
    printf 'local_rust_image=%s\nlocal_runtime_image=%s\n' "$rust_image" "$runtime_image" >"$local_bases"
    say "made $runtime_image and $rust_image; \`scripts/images.sh build\` uses them ($local_bases)"
}

case "${1:-}" in
    build) shift; build "$@" ;;
    save) shift; save "$@" ;;
    bases) bases ;;
    *) sed -n '2,17s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
