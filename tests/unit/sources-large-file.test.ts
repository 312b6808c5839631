/**
 * A model file over 4 GiB read from a folder (gpt2-xl's model.safetensors is 6.2 GB): Node 20's
 * fs.openAsBlob reports such a size modulo 2^32, so fileAsBlob reads byte ranges itself. A sparse
 * file of 4 GiB + 100 bytes (no disk space used) with bytes written near its end.
 */
import { mkdtempSync, openSync, closeSync, writeSync, ftruncateSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/model/checkpointStream';
import { fileAsBlob } from '../../src/sources/fsCache';

describe('files over 4 GiB', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gpt2-large-file-'));
  const file = path.join(dir, 'model.safetensors');
  const size = 2 ** 32 + 100;
  const fd = openSync(file, 'w');
  ftruncateSync(fd, size);
  writeSync(fd, Buffer.from('tail!'), 0, 5, size - 5);
  writeSync(fd, Buffer.from('head'), 0, 4, 0);
  closeSync(fd);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has its real size and reads any byte range, past 4 GiB too', async () => {
    const blob = await fileAsBlob(file);
    expect(blob.size).toBe(size);
    expect(await blob.slice(size - 5, size).text()).toBe('tail!');
    expect(await blob.slice(0, 4).text()).toBe('head');
    expect(new Uint8Array(await blob.slice(size - 7, size - 5).arrayBuffer())).toEqual(new Uint8Array([0, 0]));
    expect(blob.slice(size - 5).slice(1, 3).size).toBe(2);
    expect(
      await blob
        .slice(size - 5)
        .slice(1, 3)
        .text(),
    ).toBe('ai');
    expect(blob.slice(10, 5).size).toBe(0);
  });

  it('is read by the checkpoint reader as a source of its real size, span by span', async () => {
    const source = bytesSource(await fileAsBlob(file));
    expect(source.size).toBe(size);
    const chunks: Uint8Array[] = [];
    for await (const chunk of source.read(size - 5, size)) chunks.push(chunk);
    expect(Buffer.concat(chunks).toString()).toBe('tail!');
  });
});
