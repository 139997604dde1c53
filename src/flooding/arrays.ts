import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';

/**
 * Strict readers of the array formats researchers keep image data in: IDX (the MNIST family,
 * gzipped or not) and NumPy .npy/.npz. They read bytes already in memory, check every size against
 * the bytes present before allocating, and bound every decompression, so a hostile file fails with
 * a message (never quoting its content) instead of exhausting memory.
 */

/** Decompressed arrays above this are refused: a task holds its data in memory, about 4 bytes a value. */
export const MAX_ARRAY_BYTES = 1024 * 2 ** 20;

/** What is wrong with a file; the caller prefixes the field and the file's name. */
export class ArrayFormatError extends Error {
  override name = 'ArrayFormatError';
}

export type ArrayDtype = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';

export interface NumericArray {
  dtype: ArrayDtype;
  /** Row-major; the first dimension is the sample. */
  shape: number[];
  /** The values in file order, as numbers (int64 values beyond 2^53 are refused where read). */
  values: ArrayLike<number>;
}

const BYTES: Record<ArrayDtype, number> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  float32: 4,
  float64: 8,
};

export function isIntegerDtype(dtype: ArrayDtype): boolean {
  return !dtype.startsWith('float');
}

/** The product of `shape`, refused above what MAX_ARRAY_BYTES allows before anything is allocated. */
function checkedSize(shape: number[], bytesPerValue: number): number {
  let size = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new ArrayFormatError('its header declares an invalid dimension');
    size *= dim;
    if (size * bytesPerValue > MAX_ARRAY_BYTES) {
      throw new ArrayFormatError(
        `its header declares ${shape.join(' x ')} values, more than the limit of ${MAX_ARRAY_BYTES / 2 ** 20} MiB of data`,
      );
    }
  }
  return size;
}

/** Reads `count` values of `dtype` at `offset`, in the given byte order, into a typed array. */
function readValues(bytes: Uint8Array, offset: number, count: number, dtype: ArrayDtype, littleEndian: boolean): ArrayLike<number> {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * BYTES[dtype]);
  switch (dtype) {
    case 'uint8':
      return bytes.slice(offset, offset + count);
    case 'int8':
      return new Int8Array(bytes.slice(offset, offset + count).buffer);
    case 'int16':
      return Int16Array.from({ length: count }, (_, i) => view.getInt16(2 * i, littleEndian));
    case 'uint16':
      return Uint16Array.from({ length: count }, (_, i) => view.getUint16(2 * i, littleEndian));
    case 'int32':
      return Int32Array.from({ length: count }, (_, i) => view.getInt32(4 * i, littleEndian));
    case 'uint32':
      return Uint32Array.from({ length: count }, (_, i) => view.getUint32(4 * i, littleEndian));
    case 'float32':
      return Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, littleEndian));
    case 'float64':
      return Float64Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, littleEndian));
    case 'int64':
    case 'uint64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const value = dtype === 'int64' ? view.getBigInt64(8 * i, littleEndian) : view.getBigUint64(8 * i, littleEndian);
        if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new ArrayFormatError(`value ${i} is beyond 2^53`);
        }
        out[i] = Number(value);
      }
      return out;
    }
  }
}

/** The bytes of a gzip file, inflated to at most `limit` bytes (a gzip bomb stops there); other bytes as they are. */
export function gunzipIfCompressed(bytes: Uint8Array, limit = MAX_ARRAY_BYTES): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ArrayFormatError(`it decompresses to more than the limit of ${limit / 2 ** 20} MiB`);
    }
    throw new ArrayFormatError('it is not valid gzip data (truncated or damaged)');
  }
}

const IDX_TYPES: Record<number, ArrayDtype> = {
  8: 'uint8',
  9: 'int8',
  11: 'int16',
  12: 'int32',
  13: 'float32',
  14: 'float64',
};

/** An IDX file (http://yann.lecun.com/exdb/mnist/): magic 0 0 type ndim, ndim big-endian uint32 sizes, big-endian data. */
export function parseIdx(file: Uint8Array): NumericArray {
  const bytes = gunzipIfCompressed(file);
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0 || !(bytes[2] in IDX_TYPES) || bytes[3] === 0) {
    throw new ArrayFormatError('it is not an IDX file (wrong magic number)');
  }
  const dtype = IDX_TYPES[bytes[2]];
  const ndim = bytes[3];
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) throw new ArrayFormatError('its header is truncated');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const shape = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = checkedSize(shape, BYTES[dtype]);
  const expected = headerBytes + size * BYTES[dtype];
  if (bytes.length < expected) throw new ArrayFormatError(`it is truncated: its header declares ${expected} bytes, it has ${bytes.length}`);
  if (bytes.length > expected) throw new ArrayFormatError(`it has ${bytes.length - expected} bytes after the data its header declares`);
  return { dtype, shape, values: readValues(bytes, headerBytes, size, dtype, false) };
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const NPY_TYPES: Record<string, ArrayDtype> = {
  u1: 'uint8',
  i1: 'int8',
  b1: 'uint8',
  i2: 'int16',
  u2: 'uint16',
  i4: 'int32',
  u4: 'uint32',
  i8: 'int64',
  u8: 'uint64',
  f4: 'float32',
  f8: 'float64',
};
/** The header numpy writes: a Python dict literal with exactly these three keys, in any order. */
const NPY_ENTRY = /'descr'\s*:\s*'([<>|=])([a-z]\d)'|'fortran_order'\s*:\s*(True|False)|'shape'\s*:\s*\(((?:\s*\d+\s*,)*(?:\s*\d+\s*)?)\)/;
const NPY_HEADER = new RegExp(`^\\{\\s*(?:(?:${NPY_ENTRY.source})\\s*,\\s*){2}(?:${NPY_ENTRY.source})\\s*,?\\s*\\}\\s*$`);

/** A .npy file (numpy.lib.format, versions 1-3): C order, the numeric types above. */
export function parseNpy(bytes: Uint8Array): NumericArray {
  if (bytes.length < 10 || NPY_MAGIC.some((b, i) => bytes[i] !== b)) throw new ArrayFormatError('it is not a .npy file (wrong magic)');
  const major = bytes[6];
  if (major < 1 || major > 3) throw new ArrayFormatError(`it is a .npy file of format version ${major}; versions 1 to 3 are read`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw new ArrayFormatError('its header is truncated');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (headerLength > 65_536 || bytes.length < dataStart) throw new ArrayFormatError('its header is truncated or too long');
  const header = Buffer.from(bytes.subarray(8 + lengthBytes, dataStart)).toString('latin1');
  const keys = ['descr', 'fortran_order', 'shape'];
  if (!NPY_HEADER.test(header) || keys.some((key) => header.split(`'${key}'`).length !== 2)) {
    throw new ArrayFormatError('its header is not the dict numpy writes (descr, fortran_order, shape)');
  }
  // Each key once (checked above): each entry's captures come from its own match.
  const entries = keys.map((key) => NPY_ENTRY.exec(header.slice(header.indexOf(`'${key}'`)))!);
  const [order, code] = entries[0].slice(1, 3);
  const fortran = entries[1][3];
  const shapeText = entries[2][4];
  const dtype = NPY_TYPES[code];
  if (!dtype) throw new ArrayFormatError(`its dtype (${code}) is not a number type; allowed: ${Object.keys(NPY_TYPES).join(', ')}`);
  if (fortran === 'True') throw new ArrayFormatError('it is in Fortran order; save it in C order (numpy.ascontiguousarray)');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.length === 0) throw new ArrayFormatError('it holds a scalar, not an array');
  const size = checkedSize(shape, BYTES[dtype]);
  const expected = dataStart + size * BYTES[dtype];
  if (bytes.length < expected) throw new ArrayFormatError(`it is truncated: its header declares ${expected} bytes, it has ${bytes.length}`);
  if (bytes.length > expected) throw new ArrayFormatError(`it has ${bytes.length - expected} bytes after the data its header declares`);
  return { dtype, shape, values: readValues(bytes, dataStart, size, dtype, order !== '>') };
}

/** The members of a zip file by name: the central directory's sizes, checked and bounded, CRC-32 verified. */
export function readZip(bytes: Uint8Array, wanted: (name: string) => boolean): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  // The end of central directory record: 22 bytes and a comment of at most 65,535.
  let end = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65_535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new ArrayFormatError('it is not a zip (.npz) file, or it is truncated');
  let entries = view.getUint16(end + 10, true);
  let directorySize = view.getUint32(end + 12, true);
  let directoryStart = view.getUint32(end + 16, true);
  if (entries === 0xffff || directorySize === 0xffffffff || directoryStart === 0xffffffff) {
    // Zip64: the locator (20 bytes before) points at the zip64 end record.
    const locator = end - 20;
    if (locator < 0 || view.getUint32(locator, true) !== 0x07064b50) throw new ArrayFormatError('its zip64 directory is missing');
    const record = Number(view.getBigUint64(locator + 8, true));
    if (record + 56 > bytes.length || view.getUint32(record, true) !== 0x06064b50)
      throw new ArrayFormatError('its zip64 directory is damaged');
    entries = Number(view.getBigUint64(record + 32, true));
    directorySize = Number(view.getBigUint64(record + 40, true));
    directoryStart = Number(view.getBigUint64(record + 48, true));
  }
  if (directoryStart + directorySize > bytes.length) throw new ArrayFormatError('its zip directory lies beyond its end (truncated)');
  const members = new Map<string, Uint8Array>();
  let at = directoryStart;
  let total = 0;
  for (let i = 0; i < entries; i++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== 0x02014b50) throw new ArrayFormatError('its zip directory is damaged');
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    let compressedSize = view.getUint32(at + 20, true);
    let size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let localHeader = view.getUint32(at + 42, true);
    const name = Buffer.from(bytes.subarray(at + 46, at + 46 + nameLength)).toString('utf8');
    const extraStart = at + 46 + nameLength;
    // Zip64 extra field (id 1): the 8-byte values of the fields that hold 0xffffffff, in this order.
    for (let e = extraStart; e + 4 <= extraStart + extraLength; ) {
      const id = view.getUint16(e, true);
      const length = view.getUint16(e + 2, true);
      if (id === 1) {
        let field = e + 4;
        const next = () => {
          if (field + 8 > e + 4 + length) throw new ArrayFormatError('its zip64 extra field is damaged');
          const value = Number(view.getBigUint64(field, true));
          field += 8;
          return value;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localHeader === 0xffffffff) localHeader = next();
      }
      e += 4 + length;
    }
    at = extraStart + extraLength + commentLength;
    if (!wanted(name)) continue;
    total += size;
    if (total > MAX_ARRAY_BYTES)
      throw new ArrayFormatError(`its arrays decompress to more than the limit of ${MAX_ARRAY_BYTES / 2 ** 20} MiB`);
    if (localHeader + 30 > bytes.length || view.getUint32(localHeader, true) !== 0x04034b50) {
      throw new ArrayFormatError('a zip member header is damaged');
    }
    const dataStart = localHeader + 30 + view.getUint16(localHeader + 26, true) + view.getUint16(localHeader + 28, true);
    if (dataStart + compressedSize > bytes.length) throw new ArrayFormatError('it is truncated (a member ends beyond the file)');
    const stored = bytes.subarray(dataStart, dataStart + compressedSize);
    let data: Uint8Array;
    if (method === 0) data = stored;
    else if (method === 8) {
      try {
        // One byte more than declared, so that a member inflating beyond its declared size is caught.
        data = inflateRawSync(stored, { maxOutputLength: size + 1 });
      } catch {
        throw new ArrayFormatError('a zip member does not inflate to its declared size (damaged, or larger than declared)');
      }
    } else throw new ArrayFormatError(`a zip member uses compression method ${method}; stored (0) and deflate (8) are read`);
    if (data.length !== size || crc32(data) !== crc) throw new ArrayFormatError('a zip member fails its CRC-32 check (damaged)');
    members.set(name, data);
  }
  return members;
}

/** The arrays of a .npz file named `keys` (numpy stores `key` as the member `key.npy`). */
export function parseNpz(bytes: Uint8Array, keys: string[]): Map<string, NumericArray> {
  const names = new Set(keys.map((key) => `${key}.npy`));
  const members = readZip(bytes, (name) => names.has(name));
  const arrays = new Map<string, NumericArray>();
  for (const key of keys) {
    const member = members.get(`${key}.npy`);
    if (!member) throw new ArrayFormatError(`it has no array named ${JSON.stringify(key).slice(0, 60)}`);
    try {
      arrays.set(key, parseNpy(member));
    } catch (error) {
      if (error instanceof ArrayFormatError) throw new ArrayFormatError(`its array ${JSON.stringify(key).slice(0, 60)}: ${error.message}`);
      throw error;
    }
  }
  return arrays;
}
