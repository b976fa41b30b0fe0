# syntax=docker/dockerfile:1
# Node.js 24, a supported LTS line (20 reached its end of life in April 2026). package.json's
# engines still allows the Node 20 of development machines, where the tests run too.
ARG NODE_IMAGE=node:24-bookworm-slim
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# The first start serves the GitHub App setup page and keeps the resulting settings here; mount
# a volume on /data (docker-compose.yml does) so they outlive the container.
ENV RUNNERHUB_ENV_FILE=/data/runnerhub.env RUNNERHUB_DATA_DIR=/data
RUN mkdir /data && chown node:node /data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json app.yml ./
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:3000/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/main.js"]
