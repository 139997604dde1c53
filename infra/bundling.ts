/**
 * How the Lambda handlers are bundled: the ONE place that says so. The stack hands
 * `nodejsBundling()` to NodejsFunction (which runs the local esbuild CLI); the bundle test and the
 * training image (Dockerfile -> infra/build-image.ts) build with `esbuildOptions()` through esbuild's
 * JS API. Both are derived from the constants below, and test/infra.test.ts checks that they agree.
 *
 * Output: one ESM file (`index.mjs`) per function, with a banner that gives the bundled CommonJS
 * dependencies (tfjs, the AWS SDK, resvg) `require`, `__filename` and `__dirname`. Beside it, the
 * files read at runtime by path, which esbuild cannot see: tfjs-backend-wasm's `.wasm` binaries
 * (train), the DejaVu fonts for the plots and the vega scripts report.html inlines (aggregate,
 * compare), and resvg's native addon (`.node`, copied by
 * esbuild's `copy` loader wherever resvg is bundled).
 */
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type BundlingOptions, LogLevel, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';
import { ENV_NAMES } from '../src/env-names.js';
import { perStep, type RuntimeFileSet, STEP_IDS, STEPS, type StepId } from '../src/workflow-steps.js';

/** The Lambda Node.js major version (runtime `nodejs22.x`, image `public.ecr.aws/lambda/nodejs:22`). */
export const LAMBDA_NODE_MAJOR = 22;
export const ESBUILD_TARGET = `node${LAMBDA_NODE_MAJOR}`;

/** The bundle's file name; the Lambda handler is `index.handler`. */
export const BUNDLE_FILE = 'index.mjs';
export const HANDLER = 'index.handler';

/** Where a function's code lives inside the Lambda sandbox (zip and image alike). */
export const LAMBDA_TASK_ROOT = '/var/task';

/**
 * Gives bundled CommonJS code what it expects in an ES module. One line, no double quotes and no
 * `$`: NodejsFunction passes it to the esbuild CLI as `--banner:js=...`.
 */
export const BANNER =
  "import { createRequire as __fsCreateRequire } from 'node:module'; " +
  "import { fileURLToPath as __fsFileURLToPath } from 'node:url'; " +
  "import { dirname as __fsDirname } from 'node:path'; " +
  'const require = __fsCreateRequire(import.meta.url); ' +
  'const __filename = __fsFileURLToPath(import.meta.url); ' +
  'const __dirname = __fsDirname(__filename);';

/**
 * Never bundled: tfjs-node is a native addon with libtensorflow beside it, installed only in the
 * training image (backend.ts loads it in try/catch and falls back to wasm when it is absent). The
 * AWS SDK *is* bundled, so the versions tested are the versions deployed.
 */
export const EXTERNAL_MODULES = ['@tensorflow/tfjs-node'];

/**
 * In the training image every `@tensorflow/*` package comes from node_modules: tfjs-node registers
 * its backend with the tfjs-core it requires itself, so the bundle must use that same copy.
 */
export const IMAGE_EXTERNAL_MODULES = [...EXTERNAL_MODULES, '@tensorflow/*'];

/**
 * `main` first, as Node resolves them: tfjs's `main` is its Node build (the one the tests run).
 * Packages with an `exports` map (vega, the AWS SDK) resolve through it either way.
 */
export const MAIN_FIELDS = ['main', 'module'];

/**
 * Native addons the bundles need in their Lambda build (linux x86_64, glibc). npm installs only the
 * build machine's variant: on macOS or Windows, install this one too before deploying (docs/cloud.md).
 */
export const LAMBDA_NATIVE_PACKAGES = ['@resvg/resvg-js-linux-x64-gnu'];

/** resvg's native addon: copied beside the bundle and required from there at runtime. */
export const LOADERS: Record<string, 'copy'> = { '.node': 'copy' };

export const MINIFY = true;
/** Warnings and errors only (no bundle-size table). */
export const LOG_LEVEL = 'warning';
/** Keeps class and function names (error names in logs, tfjs class registrations). */
export const KEEP_NAMES = true;

/** One function per workflow step (src/workflow-steps.ts). */
export type FunctionId = StepId;
export const FUNCTION_IDS: readonly FunctionId[] = STEP_IDS;

/** Directory of the tfjs-backend-wasm binaries, relative to the bundle (FLOODSWEEP_WASM_DIR). */
export const WASM_SUBDIR = '.';
/** Directory of the plot fonts, relative to the bundle (FLOODSWEEP_FONT_DIR). */
export const FONT_SUBDIR = 'fonts';

export interface RuntimeFile {
  /** Relative to the project root. */
  from: string;
  /** Relative to the bundle's directory. */
  to: string;
}

const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];
const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'];

const PLOT_FONTS: readonly RuntimeFile[] = FONT_FILES.map((file) => ({
  from: `node_modules/dejavu-fonts-ttf/ttf/${file}`,
  to: path.posix.join(FONT_SUBDIR, file),
}));

/** The browser builds of vega that report.html inlines (src/report/interactive.ts VEGA_SCRIPTS), in `vega/` beside the bundle. */
const REPORT_SCRIPTS: readonly RuntimeFile[] = [
  'vega/build/vega.min.js',
  'vega-lite/build/vega-lite.min.js',
  'vega-embed/build/vega-embed.min.js',
].map((file) => ({ from: `node_modules/${file}`, to: path.posix.join('vega', path.posix.basename(file)) }));

const RUNTIME_FILE_SETS: Record<RuntimeFileSet, readonly RuntimeFile[]> = {
  wasm: WASM_FILES.map((file) => ({
    from: `node_modules/@tensorflow/tfjs-backend-wasm/dist/${file}`,
    to: path.posix.join(WASM_SUBDIR, file),
  })),
  plotFonts: PLOT_FONTS,
  reportScripts: REPORT_SCRIPTS,
};

/** Files each bundle reads at runtime by path (so esbuild cannot see them), copied beside it: the sets its step names. */
export const RUNTIME_FILES: Record<FunctionId, readonly RuntimeFile[]> = perStep((fn) =>
  STEPS[fn].runtimeFiles.flatMap((set: RuntimeFileSet) => RUNTIME_FILE_SETS[set]),
);

/** The environment a bundle needs to find its runtime files, given the directory it runs from. */
export function runtimeFileEnvironment(fn: FunctionId, bundleDir = LAMBDA_TASK_ROOT): Record<string, string> {
  const env: Record<string, string> = {};
  if (RUNTIME_FILES[fn].some((file) => file.to.endsWith('.wasm'))) {
    env[ENV_NAMES.wasmDir] = path.posix.join(bundleDir, WASM_SUBDIR);
  }
  if (RUNTIME_FILES[fn].some((file) => file.to.endsWith('.ttf'))) {
    env[ENV_NAMES.fontDir] = path.posix.join(bundleDir, FONT_SUBDIR);
  }
  return env;
}

export type BundleVariant = 'zip' | 'image';

export interface EsbuildOptionsInput {
  projectRoot: string;
  /** The directory the bundle (and esbuild's copied files) go to. */
  outdir: string;
  /** `image`: the training container, where `@tensorflow/*` comes from node_modules. Default zip. */
  variant?: BundleVariant;
}

/** esbuild JS API options, equivalent to what NodejsFunction runs with `nodejsBundling(fn)`. */
export function esbuildOptions(fn: FunctionId, input: EsbuildOptionsInput): BuildOptions {
  return {
    entryPoints: [path.join(input.projectRoot, STEPS[fn].handler)],
    outfile: path.join(input.outdir, BUNDLE_FILE),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: ESBUILD_TARGET,
    banner: { js: BANNER },
    external: input.variant === 'image' ? IMAGE_EXTERNAL_MODULES : EXTERNAL_MODULES,
    mainFields: MAIN_FIELDS,
    loader: LOADERS,
    minify: MINIFY,
    keepNames: KEEP_NAMES,
    absWorkingDir: input.projectRoot,
    logLevel: LOG_LEVEL,
  };
}

/** Quotes a path for `bash -c` (NodejsFunction runs command hooks through bash). */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The shell commands that copy a function's runtime files beside its bundle. */
export function copyRuntimeFileCommands(fn: FunctionId, inputDir: string, outputDir: string): string[] {
  return RUNTIME_FILES[fn].map((file) => {
    const to = path.posix.join(outputDir, file.to);
    return `mkdir -p ${shellQuote(path.posix.dirname(to))} && cp ${shellQuote(path.posix.join(inputDir, file.from))} ${shellQuote(to)}`;
  });
}

/** Fails the bundling, with what to do, when a Lambda native addon is not installed. */
export function checkNativePackageCommands(inputDir: string): string[] {
  return LAMBDA_NATIVE_PACKAGES.map((name) => {
    const manifest = path.posix.join(inputDir, 'node_modules', name, 'package.json');
    const message = `${name} is not installed: the Lambda bundles need the linux x86_64 build of this native addon. Run: npm install --no-save --os=linux --cpu=x64 --libc=glibc ${name}`;
    return `test -f ${shellQuote(manifest)} || { echo ${shellQuote(message)} >&2; exit 1; }`;
  });
}

/** The same copies as `copyRuntimeFileCommands`, in process (bundle test, training image). */
export async function copyRuntimeFiles(fn: FunctionId, projectRoot: string, outdir: string): Promise<void> {
  for (const file of RUNTIME_FILES[fn]) {
    const to = path.join(outdir, file.to);
    await mkdir(path.dirname(to), { recursive: true });
    await copyFile(path.join(projectRoot, file.from), to);
  }
}

/** NodejsFunction bundling options for one function: local esbuild, never Docker. */
export function nodejsBundling(fn: FunctionId): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: ESBUILD_TARGET,
    banner: BANNER,
    externalModules: EXTERNAL_MODULES,
    mainFields: MAIN_FIELDS,
    loader: LOADERS,
    minify: MINIFY,
    keepNames: KEEP_NAMES,
    sourceMap: false,
    logLevel: LogLevel.WARNING,
    forceDockerBundling: false,
    commandHooks: {
      beforeBundling: (inputDir) => checkNativePackageCommands(inputDir),
      beforeInstall: () => [],
      afterBundling: (inputDir, outputDir) => copyRuntimeFileCommands(fn, inputDir, outputDir),
    },
  };
}
