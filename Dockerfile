# The image `portstorm k8s` manifests run (README: More than one machine → On Kubernetes).
#   docker build -t portstorm:0.1.0 .        (the tag `portstorm k8s` names by default: portstorm:<version>)
# Everything is fetched and compiled here, at build time: the native addons (socket reader and
# connection engine) are compiled against this Node, and the running container needs no network
# beyond the target it loads. It runs as the unprivileged `node` user (uid 1000, as the manifests say).

FROM node:20-bookworm-slim AS build
# node-gyp's toolchain for the native addons; the headers are the image's own (no download).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local \
    npm_config_build_from_source=true
WORKDIR /src
COPY . .
# `npm ci` runs the install script (scripts/build-native.mjs: compile the addons) and prepare (tsc).
RUN npm ci --no-audit --no-fund \
 && test "$(ls native/sockdiag/build/Release/sockdiag.node native/connengine/build/Release/connengine.node | wc -l)" -eq 2 \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf native/*/build/Release/obj.target native/*/build/Release/.deps

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/build/src ./build/src
COPY --from=build /src/native ./native
COPY --from=build /src/schema ./schema
COPY --from=build /src/scenarios ./scenarios
RUN chmod 0755 build/src/cli/main.js \
 && ln -s /app/build/src/cli/main.js /usr/local/bin/portstorm \
 && portstorm --version
USER 1000:1000
ENTRYPOINT ["portstorm"]
CMD ["--help"]
