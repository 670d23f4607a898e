# meshlet container image. Three stages:
#   build     — all dependencies (dev included), then `npm run build`: the native addons (SO_ORIGINAL_DST and hot-restart
#               fd passing; node-gyp, needs the toolchain of the full node image) and the TypeScript output in dist/;
#   prod-deps — a clean `npm ci --omit=dev`, so no devDependency (typescript, eslint, node-gyp...) reaches the image;
#   runtime   — slim Node LTS, iptables/iproute2 for the `meshlet iptables` init container, the production
#               node_modules, dist/src, the built addons, proto/ and bootstrap/; runs as the Istio proxy identity
#               1337:1337 with `meshlet` on PATH as the entrypoint.
# Docker is not available on the CI machines: test/integration/dockerfile-steps.test.ts parses this file, runs the
# build and prod-deps RUN/COPY steps in clean directories, assembles the runtime stage and starts it as uid 1337.
# Keep RUN steps to plain shell commands joined with && (the test runs them with sh -c, apt-get/user setup skipped).

FROM node:24-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied; the build runs explicitly below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:24-bookworm-slim AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends iptables iproute2 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 1337 istio-proxy && useradd --uid 1337 --gid 1337 --no-create-home --shell /usr/sbin/nologin istio-proxy
WORKDIR /opt/meshlet
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/native/build/Release/original_dst.node ./native/build/Release/original_dst.node
COPY --from=build /src/native/build/Release/hot_restart.node ./native/build/Release/hot_restart.node
COPY --from=build /src/proto ./proto
COPY --from=build /src/bootstrap ./bootstrap
RUN mkdir -p /usr/local/bin && ln -sf /opt/meshlet/bin/meshlet.js /usr/local/bin/meshlet
USER 1337:1337
ENV NODE_ENV=production
EXPOSE 15000 15001 15006 15021 15090
ENTRYPOINT ["meshlet"]
CMD ["-c", "/opt/meshlet/bootstrap/demo.yaml"]
