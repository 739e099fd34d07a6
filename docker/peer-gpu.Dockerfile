# The bt-ps peer on an NVIDIA GPU: tfjs-node-gpu (libtensorflow 2.9 with CUDA 11.2 and cuDNN 8.1) for the server and
# client roles. Needs the NVIDIA container toolkit on the host (see README, "Run on a cluster").
#   docker build -f docker/peer-gpu.Dockerfile -t bt-ps-peer-gpu .
#   docker run --gpus all bt-ps-peer-gpu client --server server:7000 --tracker udp://tracker:6969
ARG NODE_IMAGE=node:22-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04

FROM ${NODE_IMAGE} AS deps
# tfjs-node-gpu downloads libtensorflow and a prebuilt binding at install; the compilers are its fallback.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY stubs ./stubs
RUN npm ci --omit=dev --include=optional --no-audit --no-fund && npm cache clean --force \
  && find node_modules/@tensorflow/tfjs-node-gpu/lib -name tfjs_binding.node | grep -q . \
  && find node_modules -name '*.map' -delete \
  && find node_modules/webgpu/dist -mindepth 1 -maxdepth 1 -type d ! -name "linux-$(node -p process.arch)" -exec rm -rf {} +

FROM ${CUDA_IMAGE}
COPY --from=deps /usr/local/bin/node /usr/local/bin/node
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin btps \
  && mkdir -p /var/lib/bt-ps/runs /var/lib/bt-ps/checkpoints && chown -R btps:btps /var/lib/bt-ps
WORKDIR /app
# node_modules holds libtensorflow too (inside tfjs-node-gpu)
COPY --from=deps /app/node_modules ./node_modules
# The sources and stubs/ (node_modules links to it): .dockerignore keeps the context to what runs.
COPY . .
ENV NODE_ENV=production \
    NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility TF_FORCE_GPU_ALLOW_GROWTH=true \
    BTPS_SERVER_HOST=0.0.0.0 BTPS_SERVER_ADMIN_HOST=0.0.0.0 BTPS_CLIENT_HOST=0.0.0.0 \
    BTPS_SERVER_BACKEND=tensorflow BTPS_CLIENT_BACKEND=tensorflow \
    BTPS_SERVER_RUNS_DIR=/var/lib/bt-ps/runs BTPS_SERVER_CHECKPOINT_DIR=/var/lib/bt-ps/checkpoints \
    BTPS_LOG_HEALTH_FILE=/tmp/bt-ps.alive
USER btps
EXPOSE 7000 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 CMD ["node", "docker/healthcheck.mjs"]
ENTRYPOINT ["node", "bin/bt-ps.js"]
CMD ["client"]
