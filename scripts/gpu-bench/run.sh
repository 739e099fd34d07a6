# Device check: cnn-large (and cnn, mlp) training speed on the GPU through webgpu (Dawn on the NVIDIA Vulkan driver).
set -e
cd "$(dirname "$0")"
# The Vulkan and GL loaders go to / (as the device notes say); their X11 dependencies elsewhere, on the library path.
for f in libvulkan1_*.deb libegl1_*.deb libglvnd0_*.deb libopengl0_*.deb libgl1_*.deb libglx0_*.deb libgles2_*.deb; do dpkg -x "$f" /; done; ldconfig
mkdir -p /opt/x11; for f in libx11-6_*.deb libxext6_*.deb libxcb1_*.deb libxau6_*.deb libxdmcp6_*.deb libbsd0_*.deb libmd0_*.deb; do dpkg -x "$f" /opt/x11; done
export LD_LIBRARY_PATH=/opt/x11/usr/lib/x86_64-linux-gnu:/opt/x11/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
ls /usr/local/nvidia/share/vulkan/icd.d /etc/vulkan/icd.d /usr/share/vulkan/icd.d 2>/dev/null || true
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
xz -dc node.xz > /tmp/node && chmod +x /tmp/node
[ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || xz -dk node_modules/webgpu/dist/linux-x64/dawn.node.xz
[ -f bench-train.mjs ] || gunzip -k bench-train.mjs.gz
export XDG_RUNTIME_DIR=/tmp
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; fi
S=${SAMPLES:-30000}
/tmp/node bench-train.mjs --backend webgpu --model cnn-large,cnn,mlp --batch 64,256 --samples "$S" --epochs 2 --test-samples 10000 --data file --data-path fashion --json "$OUT/train-gpu-webgpu-fashion.json" 2>&1 | tee "$OUT/fashion.log"
/tmp/node bench-train.mjs --backend webgpu --model cnn-large --batch 64,256 --samples "$((S/2))" --epochs 2 --data synthetic-cifar --json "$OUT/train-gpu-webgpu-cifar.json" 2>&1 | tee "$OUT/cifar.log"
