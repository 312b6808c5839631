/**
 * A tiny safetensors writer/reader for tests: builds valid files, and malformed ones on purpose.
 */
import { parseSafetensorsHeader, readHeaderLength } from '../../src/model/safetensors';

export interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/** Header object → bytes, padded with spaces to a multiple of 8 as the reference writer does. */
function headerBytes(header: unknown): Uint8Array {
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  return new TextEncoder().encode(json);
}

/** Concatenates an 8-byte length, a header (object, or raw text for broken JSON), and data. */
export function assemble(header: unknown, data: Uint8Array, headerLength?: number): Uint8Array {
  const text = typeof header === 'string' ? new TextEncoder().encode(header) : headerBytes(header);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

/** Lays tensors out back to back, in order, and writes a valid file. */
export function writeSafetensors(tensors: RawTensor[], metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  const data = new Uint8Array(offset);
  offset = 0;
  for (const t of tensors) {
    data.set(t.data, offset);
    offset += t.data.length;
  }
  return assemble(header, data);
}

/** Reads every tensor of a valid file (copies of their bytes), in file order. */
export function readSafetensors(file: Uint8Array): RawTensor[] {
  const header = parseSafetensorsHeader(file.subarray(0, 8 + readHeaderLength(file)), 'test', file.length);
  return [...header.tensors]
    .sort((a, b) => a.begin - b.begin)
    .map((e) => ({
      name: e.name,
      dtype: e.dtype,
      shape: e.shape,
      data: file.slice(header.dataStart + e.begin, header.dataStart + e.end),
    }));
}

export const f32Bytes = (values: ArrayLike<number>) => new Uint8Array(Float32Array.from(values).buffer);
export const u16Bytes = (bits: ArrayLike<number>) => new Uint8Array(Uint16Array.from(bits).buffer);

/** Tight ArrayBuffer of a Uint8Array (what loadCheckpoint takes). */
export const toArrayBuffer = (bytes: Uint8Array) =>
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
