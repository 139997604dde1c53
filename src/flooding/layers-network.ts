import { activeBackend, initBackend, tf } from './backend.js';
import { DatasetError } from './datasets.js';
import type { BatchStats, InferenceModel, Network } from './model.js';
import type { BackendName } from './names.js';
import {
  checkNetworkFits,
  knownTemplate,
  type LayersModelConfig,
  type NetworkTemplate,
  networkTemplate,
  product,
  readModelFile,
  rememberTemplate,
} from './network-templates.js';
import { Rng } from './rng.js';

/**
 * Models from a file: a TensorFlow.js Layers topology (what `model.save` writes as model.json,
 * what `model.toJSON()` returns, what tfjs-converter makes of a Keras model), built by tfjs' own
 * deserialisation and trained by floodsweep's trainer like a built-in model.
 *
 * tfjs only deserialises asynchronously (`tf.models.modelFromJSON`), while the trainer builds its
 * model synchronously: `loadNetworkTemplate` builds the model once per file content and keeps its
 * configuration in tfjs' own form, from which each task then builds its model synchronously.
 */

/** tfjs' message, escaped and shortened: it may name a layer class or field from the file. */
function tfjsReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split('\n')[0];
  return JSON.stringify(line.length > 120 ? `${line.slice(0, 120)}...` : line).replace(
    /[\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g,
    '',
  );
}

/** The layer configs of a model configuration, and the one whose output is the model's. */
function outputLayerConfig(className: string, config: tf.serialization.ConfigDict): tf.serialization.ConfigDict | undefined {
  const layers = (config.layers ?? []) as tf.serialization.ConfigDict[];
  if (className === 'Sequential') return layers.at(-1);
  const [[name]] = (config.outputLayers ?? [[]]) as string[][];
  return layers.find((layer) => layer.name === name);
}

/**
 * Builds the model of a file once (per content) and keeps what tasks need; throws DatasetError
 * naming the file and what is wrong. Needs an initialised tfjs backend (any).
 */
export async function loadNetworkTemplate(config: LayersModelConfig): Promise<NetworkTemplate> {
  const { topology, sha256, file } = readModelFile(config);
  const known = knownTemplate(sha256, file);
  if (known) return known;
  // Building a model makes variables, on any backend: wasm where none was chosen yet (cpu would print tfjs' banner).
  if (!activeBackendOrUndefined()) await initBackend('wasm');
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON({ modelTopology: topology } as tf.io.ModelJSON as never);
  } catch (error) {
    throw new DatasetError(`model.path: ${file}: TensorFlow.js cannot build it: ${tfjsReason(error)}`);
  }
  try {
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw new DatasetError(
        `model.path: ${file} has ${model.inputs.length} inputs and ${model.outputs.length} outputs; one of each is needed`,
      );
    }
    const inputShape = model.inputs[0].shape.slice(1);
    const outputShape = model.outputs[0].shape;
    if (inputShape.some((dim) => typeof dim !== 'number')) {
      throw new DatasetError(`model.path: ${file} leaves a dimension of its input shape open; give every dimension but the batch`);
    }
    if (outputShape.length !== 2 || typeof outputShape[1] !== 'number') {
      throw new DatasetError(
        `model.path: ${file} outputs shape [${outputShape.map(String)}]; a vector of class scores per sample is needed`,
      );
    }
    let activationsPerSample = 0;
    let widestActivation = 0;
    let multiplyAddsPerSample = 0;
    for (const layer of model.layers) {
      const shapes = (Array.isArray(layer.outputShape[0]) ? layer.outputShape : [layer.outputShape]) as number[][];
      const size = shapes.reduce((sum, shape) => sum + product(shape.slice(1)), 0);
      activationsPerSample += size;
      widestActivation = Math.max(widestActivation, size);
      const kernel = layer.weights.find((weight) => weight.originalName.endsWith('kernel'));
      // Each output value of a kernel layer sums (kernel size / output channels) products.
      if (kernel) multiplyAddsPerSample += (product(kernel.shape as number[]) / (kernel.shape.at(-1) ?? 1)) * size;
    }
    const className = model.getClassName();
    const modelConfig = model.getConfig();
    // The trainer's loss takes logits (log-softmax inside): a softmax output layer becomes linear.
    const output = outputLayerConfig(className, modelConfig);
    const outputSettings = output?.config as tf.serialization.ConfigDict | undefined;
    if (outputSettings?.activation === 'softmax') outputSettings.activation = 'linear';
    const template: NetworkTemplate = {
      file,
      sha256,
      className,
      config: modelConfig as Record<string, unknown>,
      inputShape: inputShape as number[],
      outputWidth: outputShape[1] as number,
      parameters: model.countParams(),
      activationsPerSample,
      widestActivation,
      multiplyAddsPerSample,
    };
    rememberTemplate(template);
    return template;
  } finally {
    model.dispose();
  }
}

function buildModel(template: NetworkTemplate): tf.LayersModel {
  const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap[template.className];
  // fastWeightInit: the initialisers' random draws are skipped; the weights are set from the seed.
  return (fromConfig as (...args: unknown[]) => tf.LayersModel)(cls, structuredClone(template.config), {}, true);
}

const KERNEL_MISSING = /Kernel '(\w+)' not registered for backend '(\w+)'/;
const TFJS_NAMES: Record<string, BackendName> = { tensorflow: 'tfjs-node', wasm: 'wasm', cpu: 'cpu' };

/**
 * Refuses a model with a layer that cannot train on `backend` (tfjs-backend-wasm has no gradient
 * kernels for convolutions, say): every layer runs forward and backward once on zeros there, and
 * the first missing kernel is named with its layer and the backends that have it.
 */
export async function checkNetworkTrains(template: NetworkTemplate, backend: BackendName): Promise<void> {
  const previous = activeBackendOrUndefined();
  if (previous !== backend) await initBackend(backend);
  const model = buildModel(template);
  try {
    for (const layer of model.layers) {
      if (layer.getClassName() === 'InputLayer' || Array.isArray(layer.inputSpec?.[1])) continue;
      const inputShape = Array.isArray(layer.input) ? undefined : (layer.input.shape.slice(1) as number[]);
      if (!inputShape) continue;
      try {
        tf.tidy(() => {
          const x = tf.variable(tf.zeros([1, ...inputShape]));
          const weights = layer.trainableWeights.map((weight) => weight.read() as tf.Variable);
          const { grads } = tf.variableGrads(() => (layer.apply(x, { training: true }) as tf.Tensor).sum() as tf.Scalar, [x, ...weights]);
          tf.dispose(Object.values(grads));
          x.dispose();
        });
      } catch (error) {
        const missing = KERNEL_MISSING.exec(error instanceof Error ? error.message : '');
        if (!missing) throw error;
        const [, kernel] = missing;
        const others = Object.entries(TFJS_NAMES)
          .filter(([name, ours]) => ours !== backend && (name === 'tensorflow' || tf.getKernel(kernel, name) !== undefined))
          .map(([, ours]) => ours);
        throw new DatasetError(
          `model.path: ${template.file}: layer ${JSON.stringify(layer.name).slice(0, 60)} (${layer.getClassName()}) needs the kernel ${kernel}, which the ${backend} backend lacks; it trains on ${others.join(' or ')} (--backend)`,
        );
      }
    }
  } finally {
    model.dispose();
    if (previous && previous !== backend) await initBackend(previous);
  }
}

function activeBackendOrUndefined(): BackendName | undefined {
  try {
    return activeBackend();
  } catch {
    return undefined;
  }
}

/**
 * A model built from a file's template, its weights drawn from the seed's init stream like the
 * built-in models' (PyTorch's default): a kernel from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
 * fan_in its size over its last axis, a bias with its layer's kernel's fan_in; batch norm's
 * gamma and moving variance 1, beta and moving mean 0. Layers in order, each's weights in order.
 */
export class LayersNetwork implements Network {
  private constructor(
    private readonly model: tf.LayersModel,
    private readonly inputShape: number[],
  ) {}

  static create(config: LayersModelConfig, inputDim: number, numClasses: number, seed: number): LayersNetwork {
    const template = networkTemplate(config);
    checkNetworkFits(template, inputDim, numClasses);
    const model = buildModel(template);
    const rng = Rng.stream(seed, 'init');
    for (const layer of model.layers) {
      let fanIn = 1;
      for (const weight of layer.weights) {
        const role = weight.originalName.split('/').at(-1)!;
        const shape = weight.shape as number[];
        const values = new Float32Array(product(shape));
        if (role === 'gamma' || role === 'moving_variance') values.fill(1);
        else if (role !== 'beta' && role !== 'moving_mean') {
          if (role !== 'bias') fanIn = shape.length > 1 ? product(shape.slice(0, -1)) : shape[0];
          const bound = 1 / Math.sqrt(fanIn);
          for (let i = 0; i < values.length; i++) values[i] = rng.uniformIn(-bound, bound);
        }
        const initial = tf.tensor(values, shape);
        weight.write(initial);
        initial.dispose();
      }
    }
    return new LayersNetwork(model, template.inputShape);
  }

  get trainable(): tf.Variable[] {
    return this.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  }

  get variables(): tf.Variable[] {
    return this.model.weights.map((weight) => weight.read() as tf.Variable);
  }

  forwardTraining(x: tf.Tensor2D, _stats: BatchStats): tf.Tensor2D {
    return this.model.apply(x.reshape([-1, ...this.inputShape]), { training: true }) as tf.Tensor2D;
  }

  /** Inference on the live weights (batch norm layers use their moving statistics). */
  forInference(): InferenceModel {
    return {
      predict: (x) => tf.tidy(() => this.model.apply(x.reshape([-1, ...this.inputShape]), { training: false }) as tf.Tensor2D),
      dispose: () => undefined,
    };
  }

  /** tfjs' batch norm layers update their moving statistics in the training forward pass. */
  updateRunningStats(_stats: BatchStats): void {}

  dispose(): void {
    this.model.dispose();
  }
}
