# syntax=docker/dockerfile:1
#
# The train handler on @tensorflow/tfjs-node (native TensorFlow, multi-threaded): the Lambda
# container image of `trainRuntime=container`, the default. CDK builds it at deploy time
# (DockerImageFunction) for linux/amd64, on an x86_64 host: emulated builds on ARM hosts are known
# to crash libtensorflow. The build needs internet access (the npm registry, and
# storage.googleapis.com, where tfjs-node's install script downloads libtensorflow). The build
# context is the project root, filtered down by .dockerignore to what the bundle needs.
#
# Build by hand:  docker build --platform linux/amd64 -t floodsweep-train .

# Node 22: tfjs-node 4.22 calls util.isNullOrUndefined, which Node 23 removed. The stack passes
# LAMBDA_NODE_MAJOR (infra/bundling.ts).
ARG NODE_MAJOR=22
# The base image's digest, as "@sha256:<64 hex digits>"; empty builds from the tag alone. Pin it
# (docs/cloud.md) with the index digest that
#   docker buildx imagetools inspect public.ecr.aws/lambda/nodejs:22
# prints as "Digest:", and update it when you take a new base image.
ARG BASE_DIGEST=

FROM public.ecr.aws/lambda/nodejs:${NODE_MAJOR}${BASE_DIGEST} AS build
WORKDIR /build
COPY package.json package-lock.json ./
# What the bundler needs (tsx and esbuild are dev tools), without install scripts: tfjs-node is installed for the runtime below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY functions ./functions
COPY infra/bundling.ts infra/build-image.ts ./infra/
# The train bundle (infra/bundling.ts, variant image) and the build check, bundled the same way.
RUN node --import tsx infra/build-image.ts /build/bundle /build/check
WORKDIR /build/runtime
# What the bundle leaves external, from the committed lock (test/infra.test.ts checks it agrees
# with the project's). Its allowScripts field lets tfjs-node's install script (the libtensorflow
# download) run, and only that one: npm 11 warns about others, npm 12 blocks them.
COPY infra/image/package.json infra/image/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM public.ecr.aws/lambda/nodejs:${NODE_MAJOR}${BASE_DIGEST}
COPY --from=build /build/runtime/node_modules ${LAMBDA_TASK_ROOT}/node_modules
COPY --from=build /build/bundle/ ${LAMBDA_TASK_ROOT}/
# Fails the build unless one epoch of a small model trains on tfjs-node in this very image. The
# check is mounted beside node_modules for this step only, so the image does not ship it.
RUN --mount=type=bind,from=build,source=/build/check,target=/var/task/build-check \
    node /var/task/build-check/check-training.mjs tfjs-node
CMD ["index.handler"]
