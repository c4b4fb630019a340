#!/usr/bin/env bash
# Compiles crates/vulkan/shaders/*.comp (the library's own shaders: the freshness probe) into
# shaders/spv/*.spv (committed, embedded with include_bytes!). `build.sh --check` compiles into a
# temporary folder and fails if any committed binary differs from a fresh build (what `cargo
# xtask` runs in CI). The demo shaders are gdio-workloads' (crates/workloads/shaders/build.sh).
# Needs glslc (apt-get install glslc). Output is deterministic for a given glslc version.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
check=0
[[ ${1:-} == --check ]] && check=1
out="$here/spv"
if [[ $check == 1 ]]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
mkdir -p "$out"
status=0
for src in "$here"/*.comp; do
    name=$(basename "$src" .comp)
    glslc --target-env=vulkan1.2 -O -I "$here" "$src" -o "$out/$name.spv"
    if [[ $check == 1 ]] && ! cmp -s "$out/$name.spv" "$here/spv/$name.spv"; then
        echo "crates/vulkan/shaders/spv/$name.spv differs from a fresh build of $name.comp: run crates/vulkan/shaders/build.sh" >&2
        status=1
    fi
done
[[ $check == 1 && $status == 0 ]] && echo "crates/vulkan/shaders: committed SPIR-V matches a fresh build"
exit $status
