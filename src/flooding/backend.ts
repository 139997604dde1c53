// The union package, not tfjs-core alone: only its Node build registers the gradients.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { BACKENDS, type BackendName, type BackendRequest } from './names.js';
import { FloodsweepError } from './errors.js';

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

let tfjsNodeLoaded: boolean | undefined;
async function tryLoadTfjsNode(): Promise<boolean> {
  if (tfjsNodeLoaded === undefined) {
    try {
      // Optional dependency: its install downloads libtensorflow, which fails on machines without internet.
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
 * (dX = dY W^T, dW = X^T dY). The fallback sums the shared dimension in blocks of 48 and adds each
 * block's sum to the output in order; XNNPACK sums one block sequentially, like the fallback does
 * within a block. So: transpose the operands first, multiply each 48-wide block of the shared
 * dimension on XNNPACK, and add the partial products in block order. Same products, same order of
 * additions: the same float32 numbers, bit for bit (test/backend.test.ts proves it), about 4x
 * faster training on the demo MLP.
 * ------------------------------------------------------------------------------------------- */
type KernelArgs = { inputs: Record<string, tf.TensorInfo | undefined>; backend: tf.KernelBackend; attrs: Record<string, unknown> };
type KernelFn = (args: KernelArgs) => tf.TensorInfo;

/** Block size of the shared dimension in tfjs-backend-wasm's fallback matmul (batch_mat_mul_impl.cc). */
const WASM_FALLBACK_BLOCK = 48;

let originalBatchMatMul: tf.KernelConfig | undefined;

export function setTransposeFirstMatMul(enabled: boolean): void {
  originalBatchMatMul ??= tf.getKernel(tf.BatchMatMul, 'wasm');
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel(enabled ? transposeFirst(originalBatchMatMul) : originalBatchMatMul);
}

function transposeFirst(original: tf.KernelConfig): tf.KernelConfig {
  const kernel = (name: string) => tf.getKernel(name, 'wasm').kernelFunc as unknown as KernelFn;
  const [matMul, transpose, slice, add] = [original.kernelFunc as unknown as KernelFn, kernel(tf.Transpose), kernel(tf.Slice), kernel(tf.Add)];
  const kernelFunc: KernelFn = (args) => {
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const a = args.inputs.a!;
    const b = args.inputs.b!;
    // Batched products take the fallback loop with or without transposes: leave them alone.
    const shared = transposeA ? a.shape[0] : a.shape[1];
    if ((!transposeA && !transposeB) || a.shape.length !== 2 || b.shape.length !== 2 || shared === 0) return matMul(args);
    const { backend } = args;
    const temporaries: tf.TensorInfo[] = [];
    const keep = (t: tf.TensorInfo) => (temporaries.push(t), t);
    const plainA = transposeA ? keep(transpose({ inputs: { x: a }, backend, attrs: { perm: [1, 0] } })) : a;
    const plainB = transposeB ? keep(transpose({ inputs: { x: b }, backend, attrs: { perm: [1, 0] } })) : b;
    const rows = plainA.shape[0];
    const columns = plainB.shape[1];
    const plainAttrs = { ...args.attrs, transposeA: false, transposeB: false };
    let sum: tf.TensorInfo | undefined;
    for (let start = 0; start < shared; start += WASM_FALLBACK_BLOCK) {
      const width = Math.min(WASM_FALLBACK_BLOCK, shared - start);
      const blockA = keep(slice({ inputs: { x: plainA }, backend, attrs: { begin: [0, start], size: [rows, width] } }));
      const blockB = keep(slice({ inputs: { x: plainB }, backend, attrs: { begin: [start, 0], size: [width, columns] } }));
      const product = matMul({ inputs: { a: blockA, b: blockB }, backend, attrs: plainAttrs });
      if (sum) {
        const previous = keep(sum);
        keep(product);
        sum = add({ inputs: { a: previous, b: product }, backend, attrs: {} });
      } else {
        sum = product;
      }
    }
    for (const t of temporaries) backend.disposeData(t.dataId);
    return sum!;
  };
  // Keep the original's setup function: it binds the wasm export when the backend initialises.
  return { ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
