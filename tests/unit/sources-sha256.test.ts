/**
 * The streaming SHA-256 that verifies cached weights: the NIST example vectors, and Node's crypto
 * on random inputs fed in random chunk sizes (block boundaries, the padding's 55/56/64-byte edges).
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256, hubSha256, sha256Hex } from '../../src/sources/sha256';

const text = (s: string) => new TextEncoder().encode(s);

describe('Sha256', () => {
  it('matches the FIPS 180-4 examples', () => {
    expect(sha256Hex(text('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(text(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(text('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    const million = new Sha256();
    const chunk = text('a'.repeat(1000));
    for (let i = 0; i < 1000; i++) million.update(chunk);
    expect(million.digest()).toBe('cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  });

  it("equals Node's crypto on random inputs fed in random pieces", () => {
    const lengths = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4096, 100_003];
    for (const length of lengths) {
      const bytes = new Uint8Array(randomBytes(length));
      const hasher = new Sha256();
      for (let at = 0; at < length;) {
        const step = Math.min(length - at, 1 + Math.floor(Math.random() * 200));
        hasher.update(bytes.subarray(at, at + step));
        at += step;
      }
      expect(hasher.digest(), `length ${length}`).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });

  it('takes no bytes after digest()', () => {
    const hasher = new Sha256().update(text('x'));
    hasher.digest();
    expect(() => hasher.update(text('y'))).toThrow(/after digest/);
  });
});

describe('hubSha256', () => {
  const sha = 'a'.repeat(64);
  it("reads the hub's X-Linked-Etag first, then an ETag that is a SHA-256", () => {
    expect(hubSha256(new Headers({ 'x-linked-etag': `"${sha}"`, etag: '"b"' }))).toBe(sha);
    expect(hubSha256(new Headers({ etag: `"${sha.toUpperCase()}"` }))).toBe(sha);
  });
  it('ignores tags that are not a SHA-256 (a git SHA-1, a weak or server-made tag)', () => {
    expect(hubSha256(new Headers({ etag: `"${'b'.repeat(40)}"` }))).toBeNull();
    expect(hubSha256(new Headers({ etag: `W/"${sha}"` }))).toBeNull();
    expect(hubSha256(new Headers({ etag: '"5f1-18c"' }))).toBeNull();
    expect(hubSha256(new Headers())).toBeNull();
  });
});
