/**
 * Runs inside the training image's build (see Dockerfile): bundles the train handler with the
 * options of infra/bundling.ts (variant `image`: every @tensorflow/* package stays external, to be
 * installed from infra/image/package-lock.json), and the image's build check
 * (functions/check-training.ts) with the same options.
 *
 *   node --import tsx infra/build-image.ts <bundle dir> <check dir>
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { copyRuntimeFiles, esbuildOptions } from './bundling.js';

/** The build check's entry, relative to the project root, and its bundle's file name. */
const CHECK_ENTRY = 'functions/check-training.ts';
export const CHECK_FILE = 'check-training.mjs';

/** The train handler of the image, with its runtime files, in `bundleDir`. */
async function buildImageBundle(projectRoot: string, bundleDir: string): Promise<void> {
  await build(esbuildOptions('train', { projectRoot, outdir: bundleDir, variant: 'image' }));
  await copyRuntimeFiles('train', projectRoot, bundleDir);
}

/** The build check, bundled like the image's train handler, as `checkDir/check-training.mjs`. */
export async function buildTrainingCheck(projectRoot: string, checkDir: string): Promise<void> {
  await build({
    ...esbuildOptions('train', { projectRoot, outdir: checkDir, variant: 'image' }),
    entryPoints: [path.join(projectRoot, CHECK_ENTRY)],
    outfile: path.join(checkDir, CHECK_FILE),
  });
}

const thisFile = fileURLToPath(import.meta.url);
if (process.argv[1] && path.resolve(process.argv[1]) === thisFile) {
  const [bundleDir, checkDir] = process.argv.slice(2);
  if (!bundleDir || !checkDir) {
    console.error('usage: node --import tsx infra/build-image.ts <bundle dir> <check dir>');
    process.exit(2);
  }
  const projectRoot = path.resolve(path.dirname(thisFile), '..');
  await buildImageBundle(projectRoot, path.resolve(bundleDir));
  await buildTrainingCheck(projectRoot, path.resolve(checkDir));
}
