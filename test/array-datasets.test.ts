/**
 * Image and array datasets: IDX files (Fashion-MNIST from Debian's dataset-fashion-mnist, a
 * subset) and NumPy .npy/.npz files (fixtures written by numpy). Every malformed file a user can
 * hand over is generated here and refused by `sweep validate` with exit 2 and one line naming the
 * file and what is wrong, without any of its content.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { MAX_ARRAY_BYTES } from '../src/flooding/arrays.js';
import { resolveTaskConfig } from '../src/flooding/config.js';
import { makeDataset } from '../src/flooding/make-dataset.js';
import { planTasks } from '../src/planned-tasks.js';
import { estimateTask } from '../src/sweep/resources.js';
import { validateSpec } from '../src/sweep/spec.js';
import { floodsweep, show } from './cli-helpers.js';

const FASHION = '/usr/share/datasets/fashion-mnist';
const fashionFile = (name: string) => join(FASHION, `${name}-ubyte.gz`);
const hasFashion = existsSync(fashionFile('t10k-images-idx3'));
const noFashion = hasFashion ? false : `Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)`;
const ARRAYS = fileURLToPath(new URL('./fixtures/arrays/', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'floodsweep-arrays-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An IDX file: magic 0 0 type ndim, big-endian sizes, then `data` (the values' bytes as given). */
function idx(type: number, shape: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header[2] = type;
  header[3] = shape.length;
  for (const [i, dim] of shape.entries()) header.writeUInt32BE(dim, 4 + 4 * i);
  return Buffer.concat([header, data]);
}

/** A version 1 .npy file with the header numpy writes. */
function npy(descr: string, shape: number[], data: Uint8Array, fortran = false): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((header.length + 10) % 64)) + '\n';
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]);
}

/** A zip of `members` (deflated), optionally lying about a member's uncompressed size. */
function zip(members: Record<string, Uint8Array>, declaredSize?: number): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(members)) {
    const packed = deflateRawSync(data);
    const nameBytes = Buffer.from(name);
    const size = declaredSize ?? data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(8, 10);
    entry.writeUInt32LE(crc32(data), 16);
    entry.writeUInt32LE(packed.length, 20);
    entry.writeUInt32LE(size, 24);
    entry.writeUInt16LE(nameBytes.length, 28);
    entry.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, packed);
    central.push(entry, nameBytes);
    offset += 30 + nameBytes.length + packed.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(members).length, 8);
  end.writeUInt16LE(Object.keys(members).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

const SAMPLES = 30;
const images = Uint8Array.from({ length: SAMPLES * 4 }, (_, i) => (i * 37) % 256);
const labels = Uint8Array.from({ length: SAMPLES }, (_, i) => i % 3);
const floats = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const goodIdxImages = idx(0x08, [SAMPLES, 2, 2], images);
const goodIdxLabels = idx(0x08, [SAMPLES], labels);
const goodX = npy('<f4', [SAMPLES, 4], floats(Array.from(images, (v) => v / 7)));
const goodY = npy('|u1', [SAMPLES], labels);

/** A gzip bomb: concatenated gzip members of zeros, a valid gzip stream that inflates past the limit. */
function gzipBomb(): Buffer {
  const member = gzipSync(Buffer.alloc(64 * 2 ** 20));
  const header = gzipSync(idx(0x08, [SAMPLES, 2, 2], new Uint8Array(0)));
  return Buffer.concat([header, ...Array.from({ length: MAX_ARRAY_BYTES / (64 * 2 ** 20) + 1 }, () => member)]);
}

const HOSTILE: Array<{ name: string; files: Record<string, Uint8Array | (() => Uint8Array)>; dataset: object; message: RegExp }> = [
  {
    name: 'idx-wrong-magic',
    files: { 'i.idx': Buffer.from('not an idx file at all, just text\n'), 'l.idx': goodIdxLabels },
    dataset: { name: 'idx' },
    message: /^dataset\.inputs: "[^"]*i\.idx": it is not an IDX file \(wrong magic number\)$/,
  },
  {
    name: 'idx-truncated',
    files: { 'i.idx': goodIdxImages.subarray(0, goodIdxImages.length - 5), 'l.idx': goodIdxLabels },
    dataset: { name: 'idx' },
    message: /^dataset\.inputs: "[^"]*i\.idx": it is truncated: its header declares 136 bytes, it has 131$/,
  },
  {
    name: 'idx-truncated-gzip',
    files: { 'i.idx': gzipSync(goodIdxImages).subarray(0, 40), 'l.idx': goodIdxLabels },
    dataset: { name: 'idx' },
    message: /^dataset\.inputs: "[^"]*i\.idx": it is not valid gzip data \(truncated or damaged\)$/,
  },
  {
    name: 'idx-count-mismatch',
    files: { 'i.idx': goodIdxImages, 'l.idx': idx(0x08, [SAMPLES - 1], labels.subarray(1)) },
    dataset: { name: 'idx' },
    message: /^dataset\.labels: "[^"]*l\.idx": has 29 labels for 30 inputs in "[^"]*i\.idx"$/,
  },
  {
    name: 'idx-enormous-header',
    files: { 'i.idx': idx(0x08, [4_000_000_000, 4_000_000_000, 3], new Uint8Array(16)), 'l.idx': goodIdxLabels },
    dataset: { name: 'idx' },
    message:
      /^dataset\.inputs: "[^"]*i\.idx": its header declares 4000000000 x 4000000000 x 3 values, more than the limit of 1024 MiB of data$/,
  },
  {
    name: 'idx-gzip-bomb',
    files: { 'i.idx': gzipBomb, 'l.idx': goodIdxLabels },
    dataset: { name: 'idx' },
    message: /^dataset\.inputs: "[^"]*i\.idx": it decompresses to more than the limit of 1024 MiB$/,
  },
  {
    name: 'idx-nan',
    files: {
      'i.idx': idx(0x0d, [SAMPLES, 1], Buffer.from(floats([...Array(SAMPLES - 1).fill(1), Number.NaN]).reverse())),
      'l.idx': goodIdxLabels,
    },
    dataset: { name: 'idx' },
    message: /^dataset\.inputs: "[^"]*i\.idx": sample 0 holds a value that is NaN, infinite or beyond float32's range$/,
  },
  {
    name: 'npy-infinite',
    files: {
      'i.npy': npy('<f4', [SAMPLES, 1], floats([...Array(5).fill(0), Number.POSITIVE_INFINITY, ...Array(SAMPLES - 6).fill(0)])),
      'l.npy': goodY,
    },
    dataset: { name: 'npy' },
    message: /^dataset\.inputs: "[^"]*i\.npy": sample 5 holds a value that is NaN, infinite or beyond float32's range$/,
  },
  {
    name: 'npy-float64-overflow',
    files: {
      'i.npy': npy('<f8', [SAMPLES, 1], new Uint8Array(Float64Array.from({ length: SAMPLES }, (_, i) => (i === 3 ? 1e300 : 0)).buffer)),
      'l.npy': goodY,
    },
    dataset: { name: 'npy' },
    message: /^dataset\.inputs: "[^"]*i\.npy": sample 3 holds a value that is NaN, infinite or beyond float32's range$/,
  },
  {
    name: 'npy-wrong-magic',
    files: { 'i.npy': goodIdxImages, 'l.npy': goodY },
    dataset: { name: 'npy' },
    message: /^dataset\.inputs: "[^"]*i\.npy": it is not a \.npy file \(wrong magic\)$/,
  },
  {
    name: 'npy-truncated',
    files: { 'i.npy': goodX.subarray(0, goodX.length - 1), 'l.npy': goodY },
    dataset: { name: 'npy' },
    message: /^dataset\.inputs: "[^"]*i\.npy": it is truncated: its header declares \d+ bytes, it has \d+$/,
  },
  {
    name: 'npy-enormous-shape',
    files: { 'i.npy': npy('<f4', [900_000_000_000, 784], new Uint8Array(8)), 'l.npy': goodY },
    dataset: { name: 'npy' },
    message: /^dataset\.inputs: "[^"]*i\.npy": its header declares 900000000000 x 784 values, more than the limit of 1024 MiB of data$/,
  },
  {
    name: 'npy-fortran',
    files: { 'i.npy': npy('<f4', [SAMPLES, 4], floats(Array(SAMPLES * 4).fill(0)), true), 'l.npy': goodY },
    dataset: { name: 'npy' },
    message: /^dataset\.inputs: "[^"]*i\.npy": it is in Fortran order; save it in C order \(numpy\.ascontiguousarray\)$/,
  },
  {
    name: 'npy-object-dtype',
    files: { 'i.npy': goodX, 'l.npy': npy('|O', [SAMPLES], new Uint8Array(0)) },
    dataset: { name: 'npy' },
    message: /^dataset\.labels: "[^"]*l\.npy": its header is not the dict numpy writes/,
  },
  {
    name: 'npy-float-labels',
    files: { 'i.npy': goodX, 'l.npy': npy('<f4', [SAMPLES], floats(Array.from(labels))) },
    dataset: { name: 'npy' },
    message: /^dataset\.labels: "[^"]*l\.npy": holds float32 values; labels must be integers \(class indices 0, 1, \.\.\.\)$/,
  },
  {
    name: 'npy-negative-label',
    files: { 'i.npy': goodX, 'l.npy': npy('<i4', [SAMPLES], new Uint8Array(Int32Array.from(labels, (v, i) => (i === 7 ? -1 : v)).buffer)) },
    dataset: { name: 'npy' },
    message: /^dataset\.labels: "[^"]*l\.npy": label 7 is negative; labels are class indices 0 to dataset\.maxClasses - 1 \(99\)/,
  },
  {
    name: 'npy-single-class',
    files: { 'i.npy': goodX, 'l.npy': npy('|u1', [SAMPLES], new Uint8Array(SAMPLES)) },
    dataset: { name: 'npy' },
    message: /^dataset\.labels: "[^"]*l\.npy": has a single class; at least 2 are needed$/,
  },
  {
    name: 'npz-not-zip',
    files: { 'd.npz': goodX },
    dataset: { name: 'npz' },
    message: /^dataset\.path: "[^"]*d\.npz": it is not a zip \(\.npz\) file, or it is truncated$/,
  },
  {
    name: 'npz-missing-array',
    files: { 'd.npz': zip({ 'x.npy': goodX, 'labels.npy': goodY }) },
    dataset: { name: 'npz' },
    message: /^dataset\.path: "[^"]*d\.npz": it has no array named "y"$/,
  },
  {
    name: 'npz-truncated',
    files: { 'd.npz': zip({ 'x.npy': goodX, 'y.npy': goodY }).subarray(0, 200) },
    dataset: { name: 'npz' },
    message: /^dataset\.path: "[^"]*d\.npz": it is not a zip \(\.npz\) file, or it is truncated$/,
  },
  {
    name: 'npz-damaged-member',
    files: {
      'd.npz': () => {
        const bytes = zip({ 'x.npy': goodX, 'y.npy': goodY });
        bytes[60] ^= 0xff;
        return bytes;
      },
    },
    dataset: { name: 'npz' },
    message: /^dataset\.path: "[^"]*d\.npz": a zip member (fails its CRC-32 check|does not inflate to its declared size)/,
  },
  {
    name: 'npz-bomb',
    files: { 'd.npz': zip({ 'x.npy': goodX, 'y.npy': goodY }, 0xfffffff0) },
    dataset: { name: 'npz' },
    message: /^dataset\.path: "[^"]*d\.npz": its arrays decompress to more than the limit of 1024 MiB$/,
  },
  {
    name: 'npz-lying-size',
    files: { 'd.npz': zip({ 'x.npy': goodX, 'y.npy': goodY }, 100) },
    dataset: { name: 'npz' },
    message: /^dataset\.path: "[^"]*d\.npz": a zip member does not inflate to its declared size/,
  },
  {
    name: 'npz-inner-truncated',
    files: { 'd.npz': zip({ 'x.npy': goodX.subarray(0, 140), 'y.npy': goodY }) },
    dataset: { name: 'npz' },
    message: /^dataset\.path: "[^"]*d\.npz": its array "x": it is truncated: its header declares \d+ bytes, it has 140$/,
  },
];

describe('hostile array files', () => {
  for (const { name, files, dataset, message } of HOSTILE) {
    test(`${name} is refused with exit 2 and one line`, async () => {
      const caseDir = join(dir, name);
      mkdirSync(caseDir);
      const paths: Record<string, string> = {};
      for (const [file, content] of Object.entries(files)) {
        writeFileSync(join(caseDir, file), typeof content === 'function' ? content() : content);
        paths[file.split('.')[0]] = file;
      }
      const fields = paths.d ? { path: paths.d } : { inputs: paths.i, labels: paths.l };
      const spec = { name, dataset: { ...dataset, ...fields }, training: { epochs: 1 }, floodLevels: [0], seeds: [0] };
      writeFileSync(join(caseDir, 'spec.json'), JSON.stringify(spec));
      const result = await floodsweep(['sweep', 'validate', join(caseDir, 'spec.json')]);
      assert.equal(result.code, 2, show(result));
      const lines = result.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, show(result));
      assert.match(lines[0].replace(/^floodsweep: /, ''), message, show(result));
      assert.doesNotMatch(result.stderr, /not an idx file at all|\bat [\w.]+ \(/, 'no content, no stack trace');
    });
  }
});

describe('array datasets', () => {
  test('an .npz written by numpy: arrays by name, integer labels as classes, the split, sha256 in the task id', () => {
    const config = resolveTaskConfig({ dataset: { name: 'npz', path: join(ARRAYS, 'blobs.npz'), labelNoise: 0 } });
    const data = makeDataset(config.dataset, 0);
    assert.equal(data.numClasses, 4);
    assert.equal(data.dim, 4);
    assert.deepEqual([data.train.n, data.val.n, data.test.n], [54, 18, 18]);
    assert.deepEqual(data.sampleShape, [4]);
    const compressed = resolveTaskConfig({
      dataset: { name: 'npz', path: join(ARRAYS, 'blobs-compressed.npz'), inputsKey: 'inputs', labelsKey: 'labels', labelNoise: 0 },
    });
    const same = makeDataset(compressed.dataset, 0);
    assert.deepEqual(same.train.x, data.train.x, 'the compressed file holds the same arrays');
    assert.deepEqual(same.train.labels, data.train.labels);

    const spec = validateSpec({ name: 'blobs', dataset: { name: 'npz', path: join(ARRAYS, 'blobs.npz') }, floodLevels: [0], seeds: [0] });
    const [task] = planTasks(spec);
    assert.match((task.config.dataset as { sha256: string }).sha256, /^[0-9a-f]{64}$/);
  });

  test('.npy pairs: standardisation uses the training split; label noise flips floor(n * rate) labels per split', () => {
    writeFileSync(join(dir, 'x.npy'), goodX);
    writeFileSync(join(dir, 'y.npy'), goodY);
    const config = resolveTaskConfig({
      dataset: { name: 'npy', inputs: join(dir, 'x.npy'), labels: join(dir, 'y.npy'), standardize: true, labelNoise: 0.2 },
    });
    const data = makeDataset(config.dataset, 3);
    assert.equal(data.numClasses, 3);
    for (let j = 0; j < data.dim; j++) {
      let mean = 0;
      for (let i = 0; i < data.train.n; i++) mean += data.train.x[i * data.dim + j] / data.train.n;
      assert.ok(Math.abs(mean) < 1e-5, `column ${j} has mean ${mean} on the training split`);
    }
    for (const split of [data.train, data.val, data.test]) {
      const flipped = split.labels.filter((label, i) => label !== split.cleanLabels[i]).length;
      assert.equal(flipped, Math.floor(split.n * 0.2));
    }
  });

  test('Fashion-MNIST (a subset of the IDX files): pixels scaled to [0, 1], 10 classes, memory counted', { skip: noFashion }, () => {
    const config = resolveTaskConfig({
      dataset: { name: 'idx', inputs: fashionFile('t10k-images-idx3'), labels: fashionFile('t10k-labels-idx1'), samples: 500 },
      model: { kind: 'mlp', depth: 1, width: 32 },
    });
    const data = makeDataset(config.dataset, 0);
    assert.deepEqual(data.sampleShape, [28, 28]);
    assert.equal(data.numClasses, 10);
    assert.deepEqual([data.train.n, data.val.n, data.test.n], [300, 100, 100]);
    const max = data.train.x.reduce((a, b) => Math.max(a, b), 0);
    assert.ok(max <= 1 && max > 0.9, `largest pixel ${max}`);
    const estimate = estimateTask(config);
    assert.equal(estimate.dataKnown, true);
    assert.ok(estimate.memory.data >= 500 * 784 * 4 * 2, `data ${estimate.memory.data} bytes`);
    assert.equal(estimate.parameters, 784 * 32 + 4 * 32 + 32 * 10 + 10);
  });

  test('sweep validate prints the files, their shape, classes and content hash', { skip: noFashion }, async () => {
    const spec = {
      name: 'fashion-subset',
      dataset: { name: 'idx', inputs: fashionFile('t10k-images-idx3'), labels: fashionFile('t10k-labels-idx1'), samples: 1000 },
      floodLevels: [0, 0.1],
      seeds: [0],
    };
    writeFileSync(join(dir, 'fashion.json'), JSON.stringify(spec));
    const result = await floodsweep(['sweep', 'validate', join(dir, 'fashion.json')]);
    assert.equal(result.code, 0, show(result));
    assert.match(
      result.stdout,
      /data "\/usr\/share\/datasets\/fashion-mnist\/t10k-images-idx3-ubyte\.gz": 1000 samples of 28 x 28 uint8 values, 10 classes, sha256 [0-9a-f]{12}/,
    );
    assert.doesNotMatch(result.stdout, /data is not counted/);
  });
});
