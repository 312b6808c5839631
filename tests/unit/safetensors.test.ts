import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/model/errors';
import {
  bf16ToF32,
  decodeToFloat32,
  f16ToF32,
  parseSafetensorsHeader,
  readHeaderLength,
  type TensorEntry,
} from '../../src/model/safetensors';
import { assemble, f32Bytes, u16Bytes, writeSafetensors } from '../helpers/safetensorsWriter';

/** The float32 bit pattern of a number (after rounding to float32). */
const f32Bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];
const bitsOf = (values: Float32Array) => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
const entry = (dtype: string, count: number): TensorEntry => ({
  name: 't',
  dtype,
  shape: [count],
  begin: 0,
  end: count * (dtype === 'F32' ? 4 : 2),
});

describe('F16 → F32 is exact', () => {
  const cases: [number, number][] = [
    [0x0000, 0],
    [0x8000, -0],
    [0x0001, 2 ** -24], // smallest subnormal
    [0x8001, -(2 ** -24)],
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x0400, 2 ** -14], // smallest normal
    [0x7bff, 65504], // largest normal
    [0xfbff, -65504],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];

  it('decodes every known value to the exact float32 bits, including ±0, subnormals and ±infinity', () => {
    const decoded = decodeToFloat32(entry('F16', cases.length), u16Bytes(cases.map(([bits]) => bits)));
    expect(bitsOf(decoded)).toEqual(cases.map(([, value]) => f32Bits(value)));
    for (const [bits, value] of cases) expect(Object.is(f16ToF32(bits), value)).toBe(true);
  });

  it('decodes NaN (quiet and signalling, either sign) to NaN', () => {
    const nans = [0x7e00, 0x7c01, 0xfe00, 0x7fff];
    for (const value of decodeToFloat32(entry('F16', nans.length), u16Bytes(nans))) expect(value).toBeNaN();
    for (const bits of nans) expect(f16ToF32(bits)).toBeNaN();
  });

  it('agrees with Math.fround on all 63488 finite halves', () => {
    const all = Array.from({ length: 65536 }, (_, i) => i);
    const decoded = decodeToFloat32(entry('F16', all.length), u16Bytes(all));
    for (const bits of all) {
      const exponent = (bits >> 10) & 0x1f;
      if (exponent === 0x1f) continue;
      const sign = bits & 0x8000 ? -1 : 1;
      const fraction = bits & 0x3ff;
      const expected = exponent === 0 ? sign * fraction * 2 ** -24 : sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
      if (!Object.is(decoded[bits], Math.fround(expected))) throw new Error(`half 0x${bits.toString(16)} decoded to ${decoded[bits]}`);
    }
  });
});

describe('BF16 → F32 is exact (the top half of a float32)', () => {
  it('decodes ±0, subnormals, normals, max/min normals, ±infinity and NaN bit-exactly', () => {
    const bits = [0x0000, 0x8000, 0x0001, 0x007f, 0x0080, 0x3f80, 0xc040, 0x7f7f, 0xff7f, 0x7f80, 0xff80, 0x7fc0, 0xffc1];
    const decoded = decodeToFloat32(entry('BF16', bits.length), u16Bytes(bits));
    expect(bitsOf(decoded)).toEqual(bits.map((b) => (b << 16) >>> 0));
    expect(decoded[2]).toBe(2 ** -133); // smallest subnormal
    expect(decoded[4]).toBe(2 ** -126); // smallest normal
    expect(decoded[5]).toBe(1);
    expect(decoded[6]).toBe(-3);
    expect(decoded[7]).toBe(3.3895313892515355e38); // largest normal
    expect(decoded[8]).toBe(-3.3895313892515355e38);
    expect([decoded[9], decoded[10]]).toEqual([Infinity, -Infinity]);
    expect(decoded[11]).toBeNaN();
    expect(Object.is(decoded[1], -0)).toBe(true);
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0x7fc0)).toBeNaN();
  });
});

describe('F32 decoding', () => {
  it('copies unaligned bytes into a fresh array that does not alias the file', () => {
    const file = new Uint8Array(1 + 12);
    file.set(f32Bytes([1.5, -2.25, 3e-39]), 1); // offset 1: not 4-byte aligned
    const bytes = file.subarray(1);
    const decoded = decodeToFloat32(entry('F32', 3), bytes);
    expect(Array.from(decoded)).toEqual([1.5, -2.25, Math.fround(3e-39)]);
    file.fill(0);
    expect(decoded[0]).toBe(1.5);
  });

  it('rejects a byte count that does not match the tensor', () => {
    expect(() => decodeToFloat32(entry('F32', 3), new Uint8Array(8), 'm.safetensors')).toThrow(
      /m\.safetensors: tensor 't': file truncated: got 8 bytes, expected 12/,
    );
  });

  it('rejects dtypes it cannot turn into float32', () => {
    expect(() => decodeToFloat32({ name: 'x', dtype: 'I64', shape: [1], begin: 0, end: 8 }, new Uint8Array(8), 'f')).toThrow(
      /f: tensor 'x': unsupported dtype I64, expected one of F32, F16, BF16/,
    );
  });
});

describe('safetensors header', () => {
  const valid = () =>
    writeSafetensors(
      [
        { name: 'a', dtype: 'F32', shape: [2], data: f32Bytes([1, 2]) },
        { name: 'b', dtype: 'F16', shape: [1, 2], data: u16Bytes([0x3c00, 0x4000]) },
      ],
      { format: 'pt' },
    );

  it('parses names, dtypes, shapes, offsets and metadata', () => {
    const file = valid();
    const header = parseSafetensorsHeader(file, 'x.safetensors', file.length);
    expect(header.dataStart).toBe(8 + header.headerLength);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.tensors).toEqual([
      { name: 'a', dtype: 'F32', shape: [2], begin: 0, end: 8 },
      { name: 'b', dtype: 'F16', shape: [1, 2], begin: 8, end: 12 },
    ]);
  });

  it('reports a file shorter than the 8-byte length field', () => {
    expect(() => readHeaderLength(new Uint8Array(3), 'tiny.bin')).toThrow(CheckpointError);
    expect(() => readHeaderLength(new Uint8Array(3), 'tiny.bin')).toThrow(/tiny\.bin: file is only 3 bytes/);
  });

  it('reports a header length beyond the 100 MB safetensors limit (not a safetensors file)', () => {
    const bytes = new Uint8Array(8).fill(0x7f);
    expect(() => readHeaderLength(bytes, 'x.safetensors')).toThrow(
      /x\.safetensors: header length is \d+ bytes, more than the 100 MB .*: not a safetensors file/,
    );
  });

  it('names a random header length digit for digit (a u64, not a rounded double)', () => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, 5492859896634072656n, true);
    expect(() => readHeaderLength(bytes, 'x.safetensors')).toThrow(/header length is 5492859896634072656 bytes/);
  });

  it('says a file that starts with "<" is an HTML page, not a safetensors file', () => {
    const bytes = new TextEncoder().encode('<!DOCTYPE html><html>');
    expect(() => readHeaderLength(bytes, 'model.safetensors')).toThrow(
      /^model\.safetensors: starts with "<": it is an HTML page \(an error or login page was served instead of the file\), not a safetensors file$/,
    );
  });

  it('reports a header length past the end of the file', () => {
    const file = assemble({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32Bytes([1]), 5000);
    expect(() => parseSafetensorsHeader(file, 'x.safetensors', file.length)).toThrow(
      /^x\.safetensors: not a safetensors file: its first 8 bytes give a header length of 5000 bytes, past the end of the \d+-byte file$/,
    );
  });

  it('reports malformed header JSON', () => {
    const file = assemble('{"a": {"dtype": "F32", ', new Uint8Array(4));
    expect(() => parseSafetensorsHeader(file, 'x.safetensors', file.length)).toThrow(/x\.safetensors: header is not valid JSON/);
  });

  it('reports header entries without a valid dtype, shape or data_offsets', () => {
    const bad = (entryJson: unknown) => {
      const file = assemble({ w: entryJson }, new Uint8Array(4));
      return () => parseSafetensorsHeader(file, 'x', file.length);
    };
    expect(bad({ dtype: 'F32', shape: [1] })).toThrow(/tensor 'w': data_offsets must be \[begin, end\]/);
    expect(bad({ dtype: 'F32', shape: [1], data_offsets: [4, 0] })).toThrow(
      /data_offsets must be \[begin, end\] with 0 <= begin <= end, found \[4,0\]/,
    );
    expect(bad({ dtype: 'F32', shape: [-1], data_offsets: [0, 4] })).toThrow(/tensor 'w': shape must be a list of non-negative integers/);
    expect(bad({ shape: [1], data_offsets: [0, 4] })).toThrow(/tensor 'w': dtype must be a string/);
    expect(bad({ dtype: 'F32', shape: [2], data_offsets: [0, 4] })).toThrow(
      /tensor 'w': data_offsets \[0, 4\] span 4 bytes, but F32 \[2\] needs 8 bytes/,
    );
  });

  it('reports overlapping data offsets, naming both tensors', () => {
    const file = assemble(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      new Uint8Array(12),
    );
    expect(() => parseSafetensorsHeader(file, 'x.safetensors', file.length)).toThrow(
      /x\.safetensors: tensors 'a' \[0, 8\] and 'b' \[4, 12\] have overlapping data_offsets/,
    );
  });

  it('reports data offsets out of range', () => {
    const file = assemble(
      {
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        far: { dtype: 'F32', shape: [1], data_offsets: [4000, 4004] },
      },
      new Uint8Array(8),
    );
    expect(() => parseSafetensorsHeader(file, 'x.safetensors', file.length)).toThrow(
      /x\.safetensors: tensor 'far': data_offsets \[4000, 4004\] are out of range: the data section has only 8 bytes/,
    );
  });

  it('reports a truncated file with its size and the size the header describes', () => {
    const file = valid();
    const cut = file.subarray(0, file.length - 3);
    expect(() => parseSafetensorsHeader(cut, 'x.safetensors', cut.length)).toThrow(
      new RegExp(
        `x\\.safetensors: file is truncated: it is ${cut.length} bytes but its header describes ${file.length} bytes \\(tensor 'b'`,
      ),
    );
  });
});
