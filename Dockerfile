# syntax=docker/dockerfile:1
# test/container.e2e-spec.ts holds this file to what README "Operating it › Container" says, and
# runs the runtime stage's RUN commands on a copy of the build output (no Docker engine in CI).

# Build stage: compile TypeScript with the full dependency set.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs an install script, and a prepare/prepack script of
# this package must not run (src is not here yet; the build is the next step).
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies from the lockfile and dist only, as the unprivileged
# node user; everything under /app belongs to root, so the process cannot change its own code
# (and runs with a read-only root filesystem).
FROM node:24-bookworm-slim AS runtime
# --max-old-space-size=512: V8 otherwise lets the heap grow to about 4x the live set under a
# stream of distinct tokens (measured: RSS 296 MB flat, 185 MB with this cap; live heap under
# 80 MB with every cache full). Overriding NODE_OPTIONS drops it.
ENV NODE_ENV=production \
    PORT=3000 \
    GATEWAY_CONFIG=/etc/gateway/gateway.yaml \
    NODE_OPTIONS=--max-old-space-size=512
WORKDIR /app
COPY package.json package-lock.json ./
# The npm cache stays in the build cache, not in the image.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# Mount the config at /etc/gateway/gateway.yaml; NODE_ENV=production refuses dev mode.
# SIGTERM starts the graceful shutdown (shutdown.delaySeconds, then drainSeconds), exit 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=2s --start-period=10s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Exec form, no npm and no shell of ours: the node image's entrypoint script execs its
# arguments, so node is PID 1 and receives SIGTERM itself.
CMD ["node", "dist/main.js"]
