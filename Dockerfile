# meshlet container image: build stage compiles TypeScript and the SO_ORIGINAL_DST addon; the runtime stage holds
# only production dependencies, the compiled output and the addon, and runs as the Istio proxy identity 1337:1337.
# The steps below are mirrored by test/integration/dockerfile-steps.test.ts (docker is not available on CI machines).

FROM node:22-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim AS runtime
RUN groupadd --gid 1337 istio-proxy && useradd --uid 1337 --gid 1337 --no-create-home --shell /usr/sbin/nologin istio-proxy \
 && apt-get update && apt-get install -y --no-install-recommends iptables iproute2 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/meshlet
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/proto ./proto
COPY --from=build /src/bootstrap ./bootstrap
COPY --from=build /src/native/build/Release ./native/build/Release
USER 1337:1337
EXPOSE 15000 15001 15006 15021 15090
ENTRYPOINT ["node", "/opt/meshlet/bin/meshlet.js"]
CMD ["-c", "/opt/meshlet/bootstrap/demo.yaml"]
