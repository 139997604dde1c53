import { createHash } from 'node:crypto';
import { FloodsweepError } from './errors.js';
import { parseKeepingNonFinite, stringifyKeepingNonFinite } from './json.js';
import type { EpochMetrics } from './metrics.js';
import type { BackendName } from './names.js';
import type { RngState } from './rng.js';

/**
 * Everything a training run needs to continue exactly where it stopped. Serialised as
 * MAGIC | uint32 header length | JSON header | float32 tensor data | sha256 of all before, so that
 * a truncated, bit-flipped or foreign file is detected instead of being resumed as garbage.
 */
export interface Checkpoint {
  /** Hash of the task config the run belongs to: a checkpoint never resumes a different task. */
  configHash: string;
  /**
   * The backend that trained it. A run resumes only on the same backend: another one rounds
   * differently, so the result would match neither backend's uninterrupted run. Absent in
   * checkpoints written before backends were recorded.
   */
  backend?: BackendName;
  /** Epochs completed. */
  epoch: number;
  modelTensors: Float32Array[];
  optimizerTensors: Float32Array[];
  optimizerCount: number;
  shuffleRng: RngState;
  /** Training statistics accumulated since the last evaluated epoch. */
  pending: { batches: number; flooded: number; objectiveSum: number; seconds: number };
  /** Evaluated epochs so far. */
  rows: EpochMetrics[];
}

const MAGIC = 'FLOODSWEEP-CKPT-2';
/** The first format, without a checksum: refused, since its damage cannot be told. */
const MAGIC_WITHOUT_CHECKSUM = 'FLOODSWEEP-CKPT-1';
const CHECKSUM_BYTES = 32;

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** A checkpoint that cannot be read back: damaged or truncated stored state. */
export class CheckpointError extends FloodsweepError {
  override name = 'CheckpointError';

  constructor(message: string, options?: ErrorOptions) {
    super('state', message, options);
  }
}

export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  const { modelTensors, optimizerTensors, ...rest } = checkpoint;
  const tensors = [...modelTensors, ...optimizerTensors];
  const header = stringifyKeepingNonFinite({
    ...rest,
    modelTensorSizes: modelTensors.map((t) => t.length),
    optimizerTensorSizes: optimizerTensors.map((t) => t.length),
  });
  const headerBytes = Buffer.from(header, 'utf8');
  const dataLength = tensors.reduce((n, t) => n + t.length * 4, 0);
  const magic = Buffer.from(MAGIC, 'ascii');
  const out = Buffer.alloc(magic.length + 4 + headerBytes.length + dataLength + CHECKSUM_BYTES);
  let offset = magic.copy(out, 0);
  out.writeUInt32LE(headerBytes.length, offset);
  offset += 4;
  offset += headerBytes.copy(out, offset);
  for (const t of tensors) {
    Buffer.from(t.buffer, t.byteOffset, t.byteLength).copy(out, offset);
    offset += t.byteLength;
  }
  sha256(out.subarray(0, offset)).copy(out, offset);
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicLength = MAGIC.length;
  const magic = buf.toString('ascii', 0, magicLength);
  if (magic === MAGIC_WITHOUT_CHECKSUM) {
    throw new CheckpointError('checkpoint was written by an earlier floodsweep without a checksum; restart the task (--restart-task)');
  }
  if (magic !== MAGIC) throw new CheckpointError('checkpoint is not a floodsweep checkpoint (bad header)');
  if (buf.length < magicLength + 4 + CHECKSUM_BYTES) throw new CheckpointError(`checkpoint is truncated (${buf.length} bytes)`);
  const body = buf.subarray(0, buf.length - CHECKSUM_BYTES);
  if (!sha256(body).equals(buf.subarray(body.length))) {
    throw new CheckpointError(`checkpoint is damaged: its sha256 checksum does not match its ${buf.length} bytes (truncated or altered)`);
  }
  const headerLength = buf.readUInt32LE(magicLength);
  const headerStart = magicLength + 4;
  if (body.length < headerStart + headerLength) throw new CheckpointError('checkpoint is truncated (header incomplete)');
  let header: Omit<Checkpoint, 'modelTensors' | 'optimizerTensors'> & { modelTensorSizes: number[]; optimizerTensorSizes: number[] };
  try {
    header = parseKeepingNonFinite(buf.toString('utf8', headerStart, headerStart + headerLength)) as typeof header;
  } catch {
    throw new CheckpointError('checkpoint is corrupt (header is not valid JSON)');
  }
  const { modelTensorSizes, optimizerTensorSizes, ...rest } = header;
  const expected = [...modelTensorSizes, ...optimizerTensorSizes].reduce((n, s) => n + s * 4, 0);
  let offset = headerStart + headerLength;
  if (body.length !== offset + expected) {
    throw new CheckpointError(`checkpoint is truncated or corrupt: ${body.length - offset} bytes of tensor data, expected ${expected}`);
  }
  const read = (size: number) => {
    // Copy into a fresh, aligned buffer: the input's byte offset may not be a multiple of 4.
    const t = new Float32Array(size);
    Buffer.from(t.buffer).set(buf.subarray(offset, offset + size * 4));
    offset += size * 4;
    return t;
  };
  const checkpoint = { ...rest, modelTensors: modelTensorSizes.map(read), optimizerTensors: optimizerTensorSizes.map(read) };
  // A run never checkpoints non-finite weights (that is divergence, a failure), so they mean damage.
  for (const [kind, tensors] of [
    ['model', checkpoint.modelTensors],
    ['optimizer', checkpoint.optimizerTensors],
  ] as const) {
    const index = tensors.findIndex((t) => !allFinite(t));
    if (index >= 0) throw new CheckpointError(`checkpoint is damaged: ${kind} tensor ${index} holds non-finite values (NaN or Infinity)`);
  }
  return checkpoint;
}

export function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}
