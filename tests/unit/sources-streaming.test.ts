/**
 * The streaming property itself: each tensor reaches the sink as soon as its last byte has been
 * read, not after the whole file, in both the one-pass and the ranged mode; and the file's bytes
 * are never buffered whole (no chunk larger than the source's own is kept beyond one tensor).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SafetensorsHeader, TensorEntry } from '../../src/model/safetensors';
import { readCheckpoint, type ByteSource } from '../../src/model/checkpointStream';
import { fixtureDir } from '../helpers/fixture';

const file = new Uint8Array(readFileSync(path.join(fixtureDir, 'model.safetensors')));
const CHUNK = 16 * 1024;

/** A source serving `file` in CHUNK-sized pieces and recording how far it has been read. */
function recordingSource(ranged: boolean) {
  const state = { position: 0, bytesRead: 0 };
  const source: ByteSource = {
    size: file.byteLength,
    ranged,
    async *read(start, end) {
      for (let at = start; at < Math.min(end, file.byteLength); at += CHUNK) {
        const chunk = file.slice(at, Math.min(at + CHUNK, end, file.byteLength));
        state.position = at + chunk.byteLength;
        state.bytesRead += chunk.byteLength;
        yield chunk;
      }
    },
  };
  return { source, state };
}

/** A sink that notes, for each tensor, how far the source had been read when it arrived. */
function recordingSink(header: SafetensorsHeader, state: { position: number }) {
  const plan = header.tensors
    .filter((t) => !/\.attn\.(bias|masked_bias)$/.test(t.name))
    .sort((a, b) => a.begin - b.begin)
    .map((entry) => ({ entry }));
  const arrivals: { entry: TensorEntry; readTo: number; bytes: Uint8Array }[] = [];
  return {
    plan,
    arrivals,
    add: (p: { entry: TensorEntry }, bytes: Uint8Array) => void arrivals.push({ entry: p.entry, readTo: state.position, bytes }),
  };
}

describe.each([
  ['one pass', false],
  ['ranged', true],
])('readCheckpoint (%s)', (_, ranged) => {
  it('hands each tensor over as soon as its bytes are in, with the right bytes', async () => {
    const { source, state } = recordingSource(ranged);
    let sink!: ReturnType<typeof recordingSink>;
    const result = await readCheckpoint(source, (header) => (sink = recordingSink(header, state)), {
      file: 'model.safetensors',
      mergeGapBytes: 0,
    });
    expect(sink.arrivals.map((a) => a.entry.name)).toEqual(sink.plan.map((p) => p.entry.name));
    for (const { entry, readTo, bytes } of sink.arrivals) {
      const end = result.header.dataStart + entry.end;
      // Read no further than the chunk holding the tensor's last byte.
      expect(readTo).toBeGreaterThanOrEqual(end);
      expect(readTo - end).toBeLessThan(CHUNK);
      expect(Buffer.from(bytes).equals(file.subarray(result.header.dataStart + entry.begin, end))).toBe(true);
    }
    if (ranged) expect(state.bytesRead).toBe(file.byteLength - 2 * (64 * 64 * 4 + 4));
    else expect(state.bytesRead).toBe(file.byteLength);
  });
});
