#!/usr/bin/env bash
# The benchmark on a lent GPU machine (the `device` tool), which has no Node, no npm registry and no
# network. Two steps:
#
#   bash bench/device.sh pack    here: builds .device/ (git-ignored, about 50 MB): Node, the benchmark
#                                bundled by esbuild, dawn.node, ONNX Runtime's native library and
#                                onnxruntime-web's wasm, the Vulkan loader's .deb, all xz-compressed
#   bash bench/device.sh run     there, through the device tool with carry [".device"]:
#                                unpacks, finds the NVIDIA Vulkan driver, runs `npm run bench`'s cases
#                                (tuning included) and writes the results, adapter named, to $OUT
#
# e.g. device.run(command="bash bench/device.sh run", carry=[".device"], timeout_s=540).
# BENCH_ONLY, BENCH_RUNS, BENCH_PEERS, BENCH_TUNE and TESSERAE_TARGET pass through to bench/main.ts.
# `run` fails (exit 3) when Dawn picks a software adapter (lavapipe, SwiftShader) instead of the GPU,
# unless BENCH_ALLOW_SOFTWARE=1 (how it is proved offline on a machine without one:
#   bash bench/device.sh pack && OUT=/tmp/device-out BENCH_ALLOW_SOFTWARE=1 BENCH_ONLY=ViT-B/16 unshare -n bash bench/device.sh run).
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=.device

pack() {
  grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
  rm -rf "$STAGE" && mkdir -p "$STAGE/node_modules"
  # The bundle sits one folder below the repository, so the paths it reads relative to its own file
  # (../dsl/prelude.tsr) still lead into the working tree that travels; the files it reads beside its
  # own sources are copied next to it. LanceDB (a dynamic import, only for --format lance) stays out.
  node_modules/.bin/esbuild bench/main.ts --bundle --platform=node --format=esm --target=node20 \
    --external:webgpu --external:onnxruntime-node --external:onnxruntime-web --external:@jsquash/jpeg \
    --external:./lance-store.ts \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
    --outfile="$STAGE/bench.mjs" --log-level=warning
  # The embedding benchmark's decode threads load decode-worker.js from beside the bundle.
  node_modules/.bin/esbuild api/dataset/decode-worker.ts --bundle --platform=node --format=esm --target=node20 \
    --external:@jsquash/jpeg \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
    --outfile="$STAGE/decode-worker.js" --log-level=warning
  cp compiler/emit/onnx.proto dsl/grammar.peggy "$STAGE/"
  # Only the linux-x64 builds of the native packages, and their JavaScript.
  mkdir -p "$STAGE/node_modules/webgpu/dist/linux-x64"
  cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$STAGE/node_modules/webgpu/"
  cp node_modules/webgpu/dist/linux-x64/dawn.node "$STAGE/node_modules/webgpu/dist/linux-x64/"
  cp -r node_modules/onnxruntime-common node_modules/@jsquash "$STAGE/node_modules/"
  mkdir -p "$STAGE/node_modules/onnxruntime-node/bin/napi-v6/linux"
  cp -r node_modules/onnxruntime-node/package.json node_modules/onnxruntime-node/dist "$STAGE/node_modules/onnxruntime-node/"
  cp -r node_modules/onnxruntime-node/bin/napi-v6/linux/x64 "$STAGE/node_modules/onnxruntime-node/bin/napi-v6/linux/"
  mkdir -p "$STAGE/node_modules/onnxruntime-web/dist"
  cp node_modules/onnxruntime-web/package.json "$STAGE/node_modules/onnxruntime-web/"
  cp node_modules/onnxruntime-web/dist/ort.webgpu.bundle.min.mjs node_modules/onnxruntime-web/dist/ort.webgpu.min.js node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm "$STAGE/node_modules/onnxruntime-web/dist/"
  cp "$(command -v node)" "$STAGE/node"
  # The Vulkan loader (the GPU image may have the NVIDIA driver without it), from this machine's apt sources.
  (cd "$STAGE" && apt-get download -q libvulkan1 >/dev/null)
  XZ_OPT="${XZ_OPT:--T0}" tar -C "$STAGE" -cJf "$STAGE.tar.xz" . && rm -rf "$STAGE" && mkdir "$STAGE" && mv "$STAGE.tar.xz" "$STAGE/payload.tar.xz"
  echo "packed $(du -h "$STAGE/payload.tar.xz" | cut -f1) into $STAGE/payload.tar.xz (carry it as \".device\")"
}

run() {
  local work=/tmp/tesserae-device
  rm -rf "$work" && mkdir -p "$work" && tar -C "$work" -xJf "$STAGE/payload.tar.xz"
  # Where the bundle expects to be: one folder below the repository root.
  rm -rf .device-run && mv "$work" .device-run
  if ! ldconfig -p | grep -q libvulkan.so.1; then
    for f in .device-run/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  fi
  export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" TESSERAE_TUNING="${OUT:-/tmp}/tuning-cache.json"
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || true
  local require_gpu=1
  [ "${BENCH_ALLOW_SOFTWARE:-0}" = 1 ] && require_gpu=0
  BENCH_REQUIRE_GPU=$require_gpu BENCH_OUT="${OUT:-bench/results/device}" .device-run/node .device-run/bench.mjs
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: bash bench/device.sh pack|run" >&2; exit 2 ;;
esac
