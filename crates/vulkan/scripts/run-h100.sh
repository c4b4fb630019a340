#!/usr/bin/env bash
# Runs the carried gdio-vulkan probe and tests on a GPU machine. Usage, from the folder that
# holds .gl (Vulkan loader .debs) and this script's folder:  bash .h100/run-h100.sh [OUTDIR]
# Each binary's output goes to OUTDIR (default $OUT or /tmp) as well as to stdout.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${OUT:-/tmp}}
if ! ldconfig -p | grep -q libvulkan.so.1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[[ -f $icd && -z ${VK_DRIVER_FILES:-} ]] && export VK_DRIVER_FILES=$icd
nvidia-smi -L 2>/dev/null
cd "$here"
status=0
run() { local name=$1; shift; echo "=== $name $*"; timeout 300 "./$name" "$@" 2>&1 | tee "$out/$name.log"; local rc=${PIPESTATUS[0]}; echo "=== $name rc=$rc"; [[ $rc == 0 ]] || status=1; }
run probe
for t in gdio_vulkan device direct pump_e2e equivalence queue_group; do
    [[ -x ./$t ]] && run "$t" --test-threads=1 --nocapture
done
exit $status
