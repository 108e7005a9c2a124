#!/bin/sh
# Collects the shared libraries a binary links, as the builder's loader resolves them, with
# their Debian copyright files, into a tree to copy over the runtime image's root:
#
#   docker/runtime-libs.sh BINARY OUT     (in the builder stage)
#   COPY --from=builder OUT/ /            (in the runtime stage; then `ldconfig`)
#
# Why: Debian's OpenCV packages carry hard dependencies the services never load (GDAL and
# its geodata through imgcodecs, Mesa and LLVM through libglx0, dlib's 97 MB of model
# data); installing them with apt made the vision image 590 MB. Only what the binary
# links (DT_NEEDED, transitively) is copied. A library the runtime base already has is
# dropped there by `prune`, so the base's own copy is used.
set -eu

if [ "${1:-}" = "prune" ]; then
    # Runtime stage: drop our copy of any library the base image already has.
    for lib in /usr/local/lib/shop/*; do
        name="$(basename "$lib")"
        if [ -e "/usr/lib/x86_64-linux-gnu/$name" ] || [ -e "/lib/x86_64-linux-gnu/$name" ]; then
            rm -f "$lib"
        fi
    done
    ldconfig
    exit 0
fi

binary="$1"
out="$2"
mkdir -p "$out/usr/local/lib/shop" "$out/etc/ld.so.conf.d" "$out/usr/share/doc"
echo /usr/local/lib/shop > "$out/etc/ld.so.conf.d/shop.conf"
ldd "$binary" | awk '/=> \// { print $3 }' | sort -u | while read -r path; do
    case "$(basename "$path")" in
        # glibc and the loader come from the runtime image, always.
        libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|ld-linux*) continue ;;
    esac
    # The file under the soname ldd printed (symlinks followed: libblas.so.3 is an
    # alternatives link to ATLAS).
    cp -L "$path" "$out/usr/local/lib/shop/$(basename "$path")"
    real="$(readlink -f "$path")"
    # dpkg may know a file by its path before /usr was merged (/lib/...).
    package="$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || true)"
    package="$(echo "$package" | head -n 1 | cut -d: -f1)"
    if [ -n "$package" ] && [ -f "/usr/share/doc/$package/copyright" ]; then
        mkdir -p "$out/usr/share/doc/$package"
        cp "/usr/share/doc/$package/copyright" "$out/usr/share/doc/$package/copyright"
    fi
done
