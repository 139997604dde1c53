# syntax=docker/dockerfile:1
#
# The train handler on @tensorflow/tfjs-node (native TensorFlow, multi-threaded): the Lambda
# container image of `trainRuntime=container`, the default. CDK builds it at deploy time
# (DockerImageFunction) for linux/amd64; the build needs internet access (the npm registry, and
# storage.googleapis.com, where tfjs-node's install script downloads libtensorflow). The build
# context is the project root, filtered down by .dockerignore to what the bundle needs.
#
# Build by hand:  docker build --platform linux/amd64 -t floodsweep-train .
ARG NODE_MAJOR=22

FROM public.ecr.aws/lambda/nodejs:${NODE_MAJOR} AS build
WORKDIR /build
COPY package.json package-lock.json ./
# What the bundler needs (tsx and esbuild are dev tools), without install scripts: tfjs-node is installed for the runtime below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY functions ./functions
COPY infra/bundling.ts infra/build-image.ts ./infra/
# The train bundle (infra/bundling.ts, variant image) and the package.json of its node_modules.
RUN node --import tsx infra/build-image.ts /build/bundle /build/runtime
WORKDIR /build/runtime
# Installs tfjs-node (libtensorflow) and the tfjs it registers its backend with; fails the build
# if the native backend does not load.
RUN npm install --omit=dev --no-audit --no-fund --no-package-lock \
 && node -e "const tf = require('@tensorflow/tfjs-node'); if (tf.getBackend() !== 'tensorflow') throw new Error('tfjs-node backend: ' + tf.getBackend()); console.log('tfjs-node', tf.version.tfjs)"

FROM public.ecr.aws/lambda/nodejs:${NODE_MAJOR}
COPY --from=build /build/runtime/node_modules ${LAMBDA_TASK_ROOT}/node_modules
COPY --from=build /build/bundle/ ${LAMBDA_TASK_ROOT}/
CMD ["index.handler"]
