/**
 * Finds NaN and ±Infinity in a tensor's raw safetensors bytes, before it is decoded: a value is
 * non-finite exactly when all its exponent bits are set, in every float dtype (F32: 8 bits,
 * F16: 5, BF16: 8). One pass of integer tests over the bytes, cheap next to downloading them.
 */
import { CheckpointError, inFile } from './errors';
import { f16ToF32, bf16ToF32, type TensorEntry } from './safetensors';

/** The first non-finite element of a float tensor (its index and value), or null. Other dtypes: null. */
export function firstNonFinite(entry: TensorEntry, bytes: Uint8Array): { index: number; value: number } | null {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  switch (entry.dtype) {
    case 'F32': {
      const words = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >> 2);
      for (let i = 0; i < words.length; i++) {
        if ((words[i] & 0x7f800000) === 0x7f800000)
          return { index: i, value: new Float32Array(words.buffer, words.byteOffset + 4 * i, 1)[0] };
      }
      return null;
    }
    case 'F16':
    case 'BF16': {
      const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >> 1);
      const mask = entry.dtype === 'F16' ? 0x7c00 : 0x7f80;
      for (let i = 0; i < halves.length; i++) {
        if ((halves[i] & mask) === mask) return { index: i, value: entry.dtype === 'F16' ? f16ToF32(halves[i]) : bf16ToF32(halves[i]) };
      }
      return null;
    }
    default:
      return null;
  }
}

/** Throws a CheckpointError naming the file, the tensor and where, if the tensor holds NaN or ±Infinity. */
export function checkFinite(entry: TensorEntry, bytes: Uint8Array, file?: string): void {
  const found = firstNonFinite(entry, bytes);
  if (!found) return;
  const at = unravel(found.index, entry.shape);
  throw new CheckpointError(
    inFile(
      file,
      `tensor '${entry.name}' holds ${Number.isNaN(found.value) ? 'NaN' : found.value > 0 ? '+Infinity' : '-Infinity'} at [${at.join(', ')}]: ` +
        'the weights are broken (a model with non-finite weights computes nothing but NaN, and Hugging Face refuses to sample from it)',
    ),
  );
}

function unravel(index: number, shape: readonly number[]): number[] {
  const at = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    at[d] = index % shape[d];
    index = Math.floor(index / shape[d]);
  }
  return at;
}
