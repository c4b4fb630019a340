#!/usr/bin/env bash
# Builds the Vulkan test binaries (gdio-vulkan's and gdio's, which join it to the pump) and the
# probe example here (no Rust on the GPU machine)
# and copies them, stripped, into DIR (default .h100 at the repository root), with run-h100.sh.
# Copy DIR to the GPU machine and run `bash DIR/run-h100.sh` there; it needs the Vulkan loader
# (libvulkan1) and the NVIDIA driver's ICD file (crates/vulkan/docs/h100.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
dir=${1:-$root/.h100}
mkdir -p "$dir"
cd "$root"
cargo build -p gdio --example probe
for exe in $(cargo test -p gdio-vulkan -p gdio -p gdio-workloads -p gdio-cli --no-run --message-format=json 2>/dev/null \
        | grep -o '"executable":"[^"]*"' | cut -d'"' -f4); do
    name=$(basename "$exe" | sed 's/-[0-9a-f]*$//')
    cp "$exe" "$dir/$name"
done
cp target/debug/examples/probe "$dir/probe"
cp crates/vulkan/scripts/run-h100.sh "$dir/"
strip "$dir"/* 2>/dev/null || true
ls -la "$dir"
