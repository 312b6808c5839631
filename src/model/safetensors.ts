/**
 * The safetensors format: 8 bytes of little-endian u64 header length, a JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: {...} }`, then the raw,
 * little-endian tensor data. Offsets are relative to the start of the data section.
 * https://github.com/huggingface/safetensors#format
 */
import { CheckpointError, inFile } from './errors';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | string;

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte offsets relative to the start of the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  headerLength: number;
  /** 8 + headerLength: where the data section starts in the file. */
  dataStart: number;
  tensors: TensorEntry[];
  metadata: Record<string, string>;
}

/** Bytes per element of every dtype safetensors defines (so unused tensors can be checked too). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

/** The dtypes this engine decodes (to float32: tfjs has no float16). */
export const DECODABLE_DTYPES = ['F32', 'F16', 'BF16'] as const;

/** The safetensors reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_LENGTH = 100_000_000;

export function numElements(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Reads the u64 header length from the first 8 bytes of a safetensors file. */
export function readHeaderLength(first8: Uint8Array, file?: string): number {
  if (first8.byteLength < 8) {
    throw new CheckpointError(
      inFile(file, `file is only ${first8.byteLength} bytes: a safetensors file starts with an 8-byte header length`),
    );
  }
  if (first8[0] === 0x3c /* '<' */) {
    throw new CheckpointError(
      inFile(file, 'starts with "<": it is an HTML page (an error or login page was served instead of the file), not a safetensors file'),
    );
  }
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const exact = view.getBigUint64(0, true); // a bigint: a random u64 is printed digit for digit, not rounded to a double
  if (exact > BigInt(MAX_HEADER_LENGTH)) {
    throw new CheckpointError(
      inFile(file, `header length is ${exact} bytes, more than the 100 MB safetensors allows: not a safetensors file`),
    );
  }
  return Number(exact);
}

/** A header length that runs past the end of the file: whatever this is, it is not safetensors. */
export function checkHeaderFits(headerLength: number, totalSize: number | undefined, file?: string): void {
  if (totalSize !== undefined && 8 + headerLength > totalSize) {
    throw new CheckpointError(
      inFile(
        file,
        `not a safetensors file: its first 8 bytes give a header length of ${headerLength} bytes, past the end of the ${totalSize}-byte file`,
      ),
    );
  }
}

/**
 * Parses and validates the header. `prefix` holds at least the first 8 + headerLength bytes.
 * When `totalSize` (the file size) is given, offsets are checked against it as well, so a
 * truncated file is reported before any tensor is read.
 */
export function parseSafetensorsHeader(prefix: Uint8Array, file?: string, totalSize?: number): SafetensorsHeader {
  const fail = (message: string): never => {
    throw new CheckpointError(inFile(file, message));
  };
  const headerLength = readHeaderLength(prefix, file);
  const dataStart = 8 + headerLength;
  checkHeaderFits(headerLength, totalSize, file);
  if (prefix.byteLength < dataStart) {
    fail(`header length ${headerLength} runs past the end of the data given (${prefix.byteLength} bytes): file truncated?`);
  }

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(prefix.subarray(8, dataStart)));
  } catch (error) {
    return fail(`header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return fail('header JSON must be an object mapping tensor names to {dtype, shape, data_offsets}');
  }

  const metadata: Record<string, string> = {};
  const tensors: TensorEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value === 'object' && value !== null) {
        for (const [k, v] of Object.entries(value)) metadata[k] = String(v);
      }
      continue;
    }
    tensors.push(parseEntry(name, value, fail));
  }

  checkLayout(tensors, fail, totalSize === undefined ? undefined : totalSize - dataStart, totalSize, dataStart);
  return { headerLength, dataStart, tensors, metadata };
}

function parseEntry(name: string, value: unknown, fail: (m: string) => never): TensorEntry {
  if (typeof value !== 'object' || value === null) return fail(`tensor '${name}': header entry must be an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') return fail(`tensor '${name}': dtype must be a string, found ${JSON.stringify(dtype)}`);
  const isDim = (d: unknown) => typeof d === 'number' && Number.isInteger(d) && d >= 0;
  if (!Array.isArray(shape) || !shape.every(isDim)) {
    return fail(`tensor '${name}': shape must be a list of non-negative integers, found ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDim) || offsets[0] > offsets[1]) {
    return fail(`tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end, found ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  const bytesPerElement = DTYPE_BYTES[dtype];
  if (bytesPerElement !== undefined) {
    const expected = numElements(shape) * bytesPerElement;
    if (end - begin !== expected) {
      fail(
        `tensor '${name}': data_offsets [${begin}, ${end}] span ${end - begin} bytes, ` +
          `but ${dtype} [${shape.join(', ')}] needs ${expected} bytes`,
      );
    }
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Tensors must not overlap and must lie inside the data section. */
function checkLayout(
  tensors: TensorEntry[],
  fail: (m: string) => never,
  dataLength: number | undefined,
  totalSize: number | undefined,
  dataStart: number,
): void {
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let contiguous = true;
  for (let i = 0; i < sorted.length; i++) {
    const previous = sorted[i - 1];
    const current = sorted[i];
    const expectedBegin = previous ? previous.end : 0;
    if (previous && current.begin < previous.end && current.end > current.begin) {
      fail(
        `tensors '${previous.name}' [${previous.begin}, ${previous.end}] and '${current.name}' ` +
          `[${current.begin}, ${current.end}] have overlapping data_offsets`,
      );
    }
    if (current.begin !== expectedBegin) contiguous = false;
  }
  if (dataLength === undefined || sorted.length === 0) return;

  const last = sorted.reduce((a, b) => (b.end > a.end ? b : a));
  if (last.end <= dataLength) return;
  if (contiguous) {
    // Every tensor follows the previous one: the header is consistent, the file is just short.
    fail(
      `file is truncated: it is ${totalSize} bytes but its header describes ${dataStart + last.end} bytes ` +
        `(tensor '${last.name}' ends at data byte ${last.end}, only ${dataLength} data bytes present)`,
    );
  }
  const outside = sorted.find((t) => t.end > dataLength)!;
  fail(
    `tensor '${outside.name}': data_offsets [${outside.begin}, ${outside.end}] are out of range: ` +
      `the data section has only ${dataLength} bytes`,
  );
}

/** Exact float16 → float32 (every half value is representable in float32). */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Exact bfloat16 → float32: bfloat16 is the top half of a float32. */
export function bf16ToF32(bits: number): number {
  BF16_SCRATCH_U32[0] = (bits & 0xffff) << 16;
  return BF16_SCRATCH_F32[0];
}
const BF16_SCRATCH_U32 = new Uint32Array(1);
const BF16_SCRATCH_F32 = new Float32Array(BF16_SCRATCH_U32.buffer);

/** All 65536 half values, built once on first F16 decode (256 KB). */
let f16Table: Float32Array | undefined;
function halfTable(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) f16Table[bits] = f16ToF32(bits);
  }
  return f16Table;
}

/** Copies `bytes` into a fresh, aligned buffer (offsets in a safetensors file need not be aligned). */
function alignedCopy(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

/**
 * Decodes one tensor's bytes (exactly entry.end - entry.begin of them) to a new Float32Array.
 * The result never aliases `bytes`, so the file buffer can be dropped once all tensors are read.
 */
export function decodeToFloat32(entry: TensorEntry, bytes: Uint8Array, file?: string): Float32Array {
  const expectedBytes = entry.end - entry.begin;
  if (bytes.byteLength !== expectedBytes) {
    throw new CheckpointError(
      inFile(file, `tensor '${entry.name}': file truncated: got ${bytes.byteLength} bytes, expected ${expectedBytes}`),
    );
  }
  const count = numElements(entry.shape);
  switch (entry.dtype) {
    case 'F32':
      return new Float32Array(alignedCopy(bytes), 0, count);
    case 'F16': {
      const halves = new Uint16Array(alignedCopy(bytes), 0, count);
      const table = halfTable();
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[halves[i]];
      return out;
    }
    case 'BF16': {
      const halves = new Uint16Array(alignedCopy(bytes), 0, count);
      const out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = halves[i] << 16;
      return new Float32Array(out.buffer);
    }
    default:
      throw new CheckpointError(
        inFile(file, `tensor '${entry.name}': unsupported dtype ${entry.dtype}, expected one of ${DECODABLE_DTYPES.join(', ')}`),
      );
  }
}
