// The union package, not tfjs-core alone: only its Node build registers the gradients.

import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { FloodsweepError } from './errors.js';
import { BACKENDS, type BackendName, type BackendRequest } from './names.js';

export { tf };

/** Names of the same backends inside tfjs. */
const TFJS_NAME: Record<BackendName, string> = { 'tfjs-node': 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

export class BackendError extends FloodsweepError {
  override name = 'BackendError';

  constructor(message: string, options?: ErrorOptions) {
    super('input', message, options);
  }
}

export interface BackendOptions {
  /** Directory holding the tfjs-backend-wasm `.wasm` files, when they are not beside the package (bundles). */
  wasmDir?: string;
  /** Install the transpose-first matmul kernels on wasm (on by default; off only to compare numbers). */
  transposeFirstMatMul?: boolean;
}

let active: BackendName | undefined;

/**
 * Selects and initialises a backend. `auto` prefers tfjs-node and falls back to wasm; a backend
 * asked for by name that cannot start is an error, never a silent fallback (tfjs would otherwise
 * quietly run on the 30-40x slower cpu backend).
 */
export async function initBackend(request: BackendRequest = 'auto', options: BackendOptions = {}): Promise<BackendName> {
  if (request === 'auto') {
    const name = (await tryLoadTfjsNode()) ? 'tfjs-node' : 'wasm';
    return initBackend(name, options);
  }
  if (!BACKENDS.includes(request)) {
    throw new BackendError(`backend: unknown backend "${request}"; allowed: auto, ${BACKENDS.join(', ')}`);
  }
  if (request === 'tfjs-node' && !(await tryLoadTfjsNode())) {
    throw new BackendError(
      'backend: tfjs-node was requested but @tensorflow/tfjs-node is not installed or failed to load; use --backend wasm',
    );
  }
  if (request === 'wasm' && options.wasmDir) setWasmPaths(withTrailingSlash(options.wasmDir));
  const ok = await tf.setBackend(TFJS_NAME[request]);
  await tf.ready();
  if (!ok || tf.getBackend() !== TFJS_NAME[request]) {
    throw new BackendError(`backend: ${request} failed to initialise (tfjs is on "${tf.getBackend()}")`);
  }
  if (request === 'wasm') setTransposeFirstMatMul(options.transposeFirstMatMul ?? true);
  active = request;
  return request;
}

/** The backend that `initBackend` selected. */
export function activeBackend(): BackendName {
  if (!active) throw new Error('initBackend() has not been called');
  return active;
}

/**
 * The backend as results, reports and baselines name it: tfjs-node with the version of the
 * libtensorflow it runs on (its numbers change with that version), the others by name.
 */
export function backendDescription(): string {
  const name = activeBackend();
  if (name !== 'tfjs-node') return name;
  const version = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding?.TF_Version;
  return `tfjs-node (libtensorflow ${version ?? 'of unknown version'})`;
}

let tfjsNodeLoaded: boolean | undefined;
async function tryLoadTfjsNode(): Promise<boolean> {
  if (tfjsNodeLoaded === undefined) {
    try {
      // Optional dependency: its install downloads libtensorflow, which fails on machines without internet.
      // TensorFlow logs info lines to stderr as it loads; warnings and errors still show.
      process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
      const require = createRequire(import.meta.url);
      require('@tensorflow/tfjs-node');
      tfjsNodeLoaded = tf.findBackend('tensorflow') != null || tf.engine().registryFactory.tensorflow != null;
    } catch {
      tfjsNodeLoaded = false;
    }
  }
  return tfjsNodeLoaded;
}

function withTrailingSlash(dir: string): string {
  return dir.endsWith('/') ? dir : `${dir}/`;
}

/* ---------------------------------------------------------------------------------------------
 * tfjs-backend-wasm 4.22 sends a matMul with transposeA/transposeB to a scalar fallback loop, about
 * 10x slower than its XNNPACK path, and dense-layer backprop asks for exactly that
 * (dX = dY W^T, dW = X^T dY). So: transpose the operands first and make one plain XNNPACK product.
 * The fallback sums the shared dimension in blocks of 48 and XNNPACK in one run, so the two round
 * differently in the last bits (within float32 tolerance, test/backend.test.ts bounds it); both
 * are deterministic. Reproducing the fallback's blocks bit for bit took about 44 kernel calls for
 * one 500-wide product and cost a quarter of the demo's training time.
 * ------------------------------------------------------------------------------------------- */
type KernelArgs = { inputs: Record<string, tf.TensorInfo | undefined>; backend: tf.KernelBackend; attrs: Record<string, unknown> };
type KernelFn = (args: KernelArgs) => tf.TensorInfo;

let originalBatchMatMul: tf.KernelConfig | undefined;

export function setTransposeFirstMatMul(enabled: boolean): void {
  originalBatchMatMul ??= tf.getKernel(tf.BatchMatMul, 'wasm');
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel(enabled ? transposeFirst(originalBatchMatMul) : originalBatchMatMul);
}

function transposeFirst(original: tf.KernelConfig): tf.KernelConfig {
  const matMul = original.kernelFunc as unknown as KernelFn;
  const transpose = tf.getKernel(tf.Transpose, 'wasm').kernelFunc as unknown as KernelFn;
  const kernelFunc: KernelFn = (args) => {
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const a = args.inputs.a!;
    const b = args.inputs.b!;
    // Batched products take the fallback loop with or without transposes, and XNNPACK rejects an
    // empty shared dimension: leave those alone.
    const shared = transposeA ? a.shape[0] : a.shape[1];
    if ((!transposeA && !transposeB) || a.shape.length !== 2 || b.shape.length !== 2 || shared === 0) return matMul(args);
    const { backend } = args;
    const transposed = (x: tf.TensorInfo) => transpose({ inputs: { x }, backend, attrs: { perm: [1, 0] } });
    const plainA = transposeA ? transposed(a) : a;
    const plainB = transposeB ? transposed(b) : b;
    const product = matMul({ inputs: { a: plainA, b: plainB }, backend, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
    if (transposeA) backend.disposeData(plainA.dataId);
    if (transposeB) backend.disposeData(plainB.dataId);
    return product;
  };
  // Keep the original's setup function: it binds the wasm export when the backend initialises.
  return { ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
