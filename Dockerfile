# The hub, the agent and the CLI in one image; the command picks which runs.
FROM node:20-bookworm-slim AS build
WORKDIR /muster
COPY package.json package-lock.json ./
COPY apps/hub/package.json apps/hub/
COPY apps/agent/package.json apps/agent/
COPY apps/cli/package.json apps/cli/
COPY apps/console/package.json apps/console/
COPY libs/api/package.json libs/api/
COPY libs/placement/package.json libs/placement/
COPY libs/k8s/package.json libs/k8s/
COPY infra/testbed/package.json infra/testbed/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -b tsconfig.build.json && bash tools/build-console.sh && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /muster
COPY --from=build /muster /muster
USER node
EXPOSE 50051 8080
CMD ["node", "apps/hub/dist/main.js"]
