#!/usr/bin/env bash
# Runs the gdio-vulkan probe and tests that `cargo xtask gpu` packed, on a GPU machine without
# Rust. Usage, from the folder that holds this script's folder:  bash .h100/run-h100.sh [OUTDIR]
# Each binary's output goes to OUTDIR (default $OUT or /tmp) as well as to stdout.
# Needs the Vulkan loader (libvulkan.so.1, package libvulkan1): when it is missing, the .deb
# files in $GDIO_LOADER_DEBS (default .gl) are unpacked. Needs the driver's ICD file: when
# VK_DRIVER_FILES is unset, the usual places are searched for nvidia_icd.json.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${OUT:-/tmp}}
if ! ldconfig -p | grep -q libvulkan.so.1; then
    for f in "${GDIO_LOADER_DEBS:-.gl}"/*.deb; do [[ -f $f ]] && dpkg -x "$f" /; done
    ldconfig
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
if [[ -z ${VK_DRIVER_FILES:-} ]]; then
    for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
               /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
        if [[ -f $icd ]]; then export VK_DRIVER_FILES=$icd; break; fi
    done
fi
nvidia-smi -L 2>/dev/null
cd "$here"
status=0
run() { local name=$1; shift; echo "=== $name $*"; timeout 300 "./$name" "$@" 2>&1 | tee "$out/$name.log"; local rc=${PIPESTATUS[0]}; echo "=== $name rc=$rc"; [[ $rc == 0 ]] || status=1; }
run probe
# The command's own tests run the packed gdio binary.
export TEST_GDIO_BIN=$here/gdio
for t in gdio_vulkan gdio_workloads device direct shaders pump_e2e equivalence queue_group redispatch cache bfs device_windows copy_queue placement_probe cli; do
    [[ -x ./$t ]] && run "$t" --test-threads=1 --nocapture
done
exit $status
