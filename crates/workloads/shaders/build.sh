#!/usr/bin/env bash
# Compiles crates/workloads/shaders/*.comp (the demo and benchmark shaders) into shaders/spv/*.spv
# (committed, embedded with include_bytes! by src/shaders.rs). They include gdio.glsl from
# gdio-vulkan's folder (crates/vulkan/shaders) and their own helpers from this one.
# `build.sh --check` compiles into a temporary folder and fails if any committed binary differs
# from a fresh build (what `cargo xtask` runs in CI).
# Needs glslc (apt-get install glslc). Output is deterministic for a given glslc version.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
glsl=$(cd "$here/../../vulkan/shaders" && pwd)
check=0
[[ ${1:-} == --check ]] && check=1
out="$here/spv"
if [[ $check == 1 ]]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
mkdir -p "$out"
status=0
for src in "$here"/*.comp; do
    name=$(basename "$src" .comp)
    glslc --target-env=vulkan1.2 -O -I "$here" -I "$glsl" "$src" -o "$out/$name.spv"
    if [[ $check == 1 ]] && ! cmp -s "$out/$name.spv" "$here/spv/$name.spv"; then
        echo "crates/workloads/shaders/spv/$name.spv differs from a fresh build of $name.comp: run crates/workloads/shaders/build.sh" >&2
        status=1
    fi
done
[[ $check == 1 && $status == 0 ]] && echo "crates/workloads/shaders: committed SPIR-V matches a fresh build"
exit $status
