#!/usr/bin/env bash
# Packs `npm run bench:train` for a GPU machine that has no Node and no network: one bundled script, the Node binary,
# Dawn's linux-x64 build, 30,000 + 10,000 Fashion-MNIST images as IDX, and the Vulkan/GL loaders as Debian packages.
# Then, on that machine, from the folder: `bash run.sh` (results in $OUT). Usage: scripts/gpu-bench/pack.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-.gpu}
mkdir -p "$dir/node_modules/webgpu/dist/linux-x64" "$dir/fashion"
node_modules/.bin/esbuild scripts/bench-train.ts --bundle --platform=node --format=esm --log-level=error \
  --external:webgpu --external:@tensorflow/tfjs-node-gpu --external:@tensorflow/tfjs-node \
  --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" | gzip -9 > "$dir/bench-train.mjs.gz"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$dir/node_modules/webgpu/"
xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$dir/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
xz -T2 -6 -c "$(command -v node)" > "$dir/node.xz"
node --import tsx -e "
  const { writeIdxDataset } = await import('./test/support/dataset-files.ts')
  const { loadDataset } = await import('./src/training/datasets.ts')
  const { train, test } = loadDataset({ dataset: 'fashion-mnist', dataPath: '', trainSamples: 30000, testSamples: 10000, seed: 1 })
  writeIdxDataset('$dir/fashion', train, test)"
(cd "$dir/fashion" && gzip -9f train-* t10k-labels-idx1-ubyte)
(cd "$dir" && apt-get download -q libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 libx11-6 libxext6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0 2>/dev/null)
cp scripts/gpu-bench/run.sh "$dir/run.sh"
du -sh "$dir"
