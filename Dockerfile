# syntax=docker/dockerfile:1
# Build stage: the same commands CI runs (npm ci, then the build that `npm test` starts with).
# Node 22, an LTS in support (20 left support in April 2026); the code and tests also pass on Node 20.
FROM node:22-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# json-rules-engine's `clone` is installed from here (see package.json's overrides).
COPY packages ./packages
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY web ./web
COPY src ./src
COPY test ./test
COPY bench ./bench
COPY rules ./rules
COPY openapi ./openapi
RUN npm run build && node dist/src/cli/openapi.js check && node dist/src/cli/bin/triage-rules.js validate
# Keep only what runs in production (better-sqlite3's compiled addon stays in node_modules).
RUN npm prune --omit=dev

# Runtime stage: no compiler, no dev dependencies, not root.
FROM node:22-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATABASE_URL=sqlite:/data/triage.db RULES_DIR=/app/rules
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
# node_modules/clone links to it.
COPY --from=build /app/packages ./packages
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/public ./dist/public
COPY --from=build /app/rules ./rules
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# exec form: node itself is PID 1 (no shell in between), so it receives SIGTERM and closes gracefully.
CMD ["node", "dist/src/server.js"]
