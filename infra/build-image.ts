/**
 * Runs inside the training image's build (see Dockerfile): bundles the train handler with the
 * options of infra/bundling.ts (variant `image`: every @tensorflow/* package stays external) and
 * writes the package.json of the image's node_modules: exactly those external packages, at the
 * versions package-lock.json pins. Installing it installs @tensorflow/tfjs-node, whose install
 * script downloads libtensorflow.
 *
 *   node --import tsx infra/build-image.ts <bundle dir> <runtime package dir>
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { copyRuntimeFiles, esbuildOptions } from './bundling.js';

/** What the image bundle's external imports resolve to: node_modules of the image. */
export const IMAGE_RUNTIME_PACKAGES = ['@tensorflow/tfjs-node', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm'];

interface PackageLock {
  packages: Record<string, { version?: string }>;
}

export async function runtimePackageJson(
  projectRoot: string,
): Promise<{ name: string; private: true; dependencies: Record<string, string> }> {
  const lock = JSON.parse(await readFile(path.join(projectRoot, 'package-lock.json'), 'utf8')) as PackageLock;
  const dependencies: Record<string, string> = {};
  for (const name of IMAGE_RUNTIME_PACKAGES) {
    const version = lock.packages[`node_modules/${name}`]?.version;
    if (!version) throw new Error(`package-lock.json pins no version of ${name}`);
    dependencies[name] = version;
  }
  return { name: 'floodsweep-train-runtime', private: true, dependencies };
}

export async function buildImage(projectRoot: string, bundleDir: string, runtimeDir: string): Promise<void> {
  await build(esbuildOptions('train', { projectRoot, outdir: bundleDir, variant: 'image' }));
  await copyRuntimeFiles('train', projectRoot, bundleDir);
  await mkdir(runtimeDir, { recursive: true });
  await writeFile(path.join(runtimeDir, 'package.json'), `${JSON.stringify(await runtimePackageJson(projectRoot), null, 2)}\n`);
}

const thisFile = fileURLToPath(import.meta.url);
if (process.argv[1] && path.resolve(process.argv[1]) === thisFile) {
  const [bundleDir, runtimeDir] = process.argv.slice(2);
  if (!bundleDir || !runtimeDir) {
    console.error('usage: node --import tsx infra/build-image.ts <bundle dir> <runtime package dir>');
    process.exit(2);
  }
  await buildImage(path.resolve(path.dirname(thisFile), '..'), path.resolve(bundleDir), path.resolve(runtimeDir));
}
