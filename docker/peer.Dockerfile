# The bt-ps peer on CPU: one image for the server and the client roles (tfjs on its wasm backend).
#   docker build -f docker/peer.Dockerfile -t bt-ps-peer .
#   docker run bt-ps-peer client --server server:7000 --tracker udp://tracker:6969
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY stubs ./stubs
# Production dependencies only. Install scripts stay off: the one that does something on Linux is tfjs-node-gpu's
# libtensorflow download, and that package belongs to peer-gpu.Dockerfile. Dropped too, as Node on Linux never
# loads them: source maps and the other platforms' Dawn builds.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force \
  && rm -rf node_modules/@tensorflow/tfjs-node-gpu \
  && find node_modules -name '*.map' -delete \
  && find node_modules/webgpu/dist -mindepth 1 -maxdepth 1 -type d ! -name "linux-$(node -p process.arch)" -exec rm -rf {} +

FROM ${NODE_IMAGE}
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin btps \
  && mkdir -p /var/lib/bt-ps/runs /var/lib/bt-ps/checkpoints && chown -R btps:btps /var/lib/bt-ps
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# The sources and stubs/ (node_modules links to it): .dockerignore keeps the context to what runs.
COPY . .
ENV NODE_ENV=production \
    BTPS_SERVER_HOST=0.0.0.0 BTPS_SERVER_ADMIN_HOST=0.0.0.0 BTPS_CLIENT_HOST=0.0.0.0 \
    BTPS_SERVER_RUNS_DIR=/var/lib/bt-ps/runs BTPS_SERVER_CHECKPOINT_DIR=/var/lib/bt-ps/checkpoints \
    BTPS_LOG_HEALTH_FILE=/tmp/bt-ps.alive
USER btps
EXPOSE 7000 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["node", "docker/healthcheck.mjs"]
ENTRYPOINT ["node", "bin/bt-ps.js"]
CMD ["client"]
