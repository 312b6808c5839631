/** Model specs, presets, picked files and progress arithmetic: no tfjs, no network. */
import { describe, expect, it } from 'vitest';
import {
  ModelSourceError,
  PRESETS,
  describeModelSpec,
  formatModelSpec,
  hubCacheId,
  hubFileUrl,
  parseModelSpec,
  specFromFiles,
} from '../../src/sources';
import { ProgressTracker, type LoadProgress } from '../../src/sources/progress';
import { parseContentRange } from '../../src/sources/download';
import { mergeSpans } from '../../src/model/checkpointStream';

const bad = (text: string) => {
  try {
    parseModelSpec(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ModelSourceError);
    expect((error as ModelSourceError).kind).toBe('bad-spec');
    return (error as ModelSourceError).message;
  }
  throw new Error(`"${text}" was accepted`);
};

describe('parseModelSpec', () => {
  it('knows every preset, by the repo the hub hosts it under', () => {
    expect(PRESETS.map((p) => [p.id, p.repo])).toEqual([
      ['gpt2', 'openai-community/gpt2'],
      ['gpt2-medium', 'openai-community/gpt2-medium'],
      ['gpt2-large', 'openai-community/gpt2-large'],
      ['gpt2-xl', 'openai-community/gpt2-xl'],
      ['distilgpt2', 'distilbert/distilgpt2'],
    ]);
    for (const preset of PRESETS) {
      expect(parseModelSpec(preset.id)).toEqual({ kind: 'hub', repo: preset.repo, revision: 'main' });
      expect(formatModelSpec(parseModelSpec(preset.id))).toBe(preset.id);
      expect(preset.downloadBytes).toBeLessThan(preset.fileBytes);
    }
    // GPT-2 small has 124,439,808 parameters, plus 12 masks of 1024×1024 F32 in the hub's file.
    expect(PRESETS[0].downloadBytes).toBe(4 * 124_439_808);
    expect(PRESETS[0].fileBytes - PRESETS[0].downloadBytes).toBe(12 * 4 * (1024 * 1024 + 1));
    expect(describeModelSpec(parseModelSpec('gpt2-medium'))).toBe('GPT-2 medium (openai-community/gpt2-medium)');
  });

  it('reads hub repos with optional revisions, urls and the embedded default', () => {
    expect(parseModelSpec('hf:someone/gpt2-sherlock')).toEqual({ kind: 'hub', repo: 'someone/gpt2-sherlock', revision: 'main' });
    expect(parseModelSpec('hf:someone/gpt2-sherlock@v1.0')).toEqual({ kind: 'hub', repo: 'someone/gpt2-sherlock', revision: 'v1.0' });
    expect(parseModelSpec('hf:gpt2@refs/pr/1')).toEqual({ kind: 'hub', repo: 'gpt2', revision: 'refs/pr/1' });
    expect(parseModelSpec('url:/models/tiny-gpt2')).toEqual({ kind: 'url', baseUrl: '/models/tiny-gpt2/' });
    expect(parseModelSpec('')).toEqual({ kind: 'embedded' });
    expect(parseModelSpec('embedded')).toEqual({ kind: 'embedded' });
    for (const text of ['hf:a/b@dev', 'hf:a/b', 'url:/x/', 'embedded', 'gpt2-xl']) {
      expect(formatModelSpec(parseModelSpec(text))).toBe(text);
    }
  });

  it('refuses anything else, listing what is accepted', () => {
    expect(bad('gpt3')).toMatch(
      /Cannot use the model "gpt3".*gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2, hf:owner\/name\[@revision\]/,
    );
    expect(bad('hf:../etc/passwd')).toMatch(/not a hub repo id/);
    expect(bad('hf:a/b/c')).toMatch(/not a hub repo id/);
    expect(bad('hf:a/b@')).toMatch(/not a revision/);
    expect(bad('url:')).toMatch(/url: needs a folder URL/);
  });

  it('a url: that is not http(s) (file:, blob:) says what to do instead', () => {
    expect(bad('url:file:///home/me/gpt2/')).toBe(
      'Cannot use the model "url:file:///home/me/gpt2/": url: downloads from http(s) folder addresses only, not file: addresses. ' +
        'For a model on this computer, give its folder (--model DIR on the command line) or open its config.json and model.safetensors on the page.',
    );
    expect(bad('url:blob:https://x/1')).toMatch(/not blob: addresses/);
    expect(parseModelSpec('url:HTTPS://host/m/')).toEqual({ kind: 'url', baseUrl: 'HTTPS://host/m/' });
  });

  it('builds hub URLs in the hub layout', () => {
    expect(hubFileUrl('https://huggingface.co/', 'openai-community/gpt2', 'main', 'config.json')).toBe(
      'https://huggingface.co/openai-community/gpt2/resolve/main/config.json',
    );
    expect(hubFileUrl('http://127.0.0.1:9', 'a/b', 'refs/pr/1', 'model.safetensors')).toBe(
      'http://127.0.0.1:9/a/b/resolve/refs%2Fpr%2F1/model.safetensors',
    );
  });
});

describe('specFromFiles', () => {
  const file = (name: string) => new File(['{}'], name);

  it('pairs config.json with the .safetensors file and ignores the rest', () => {
    const config = file('config.json');
    const weights = file('model.safetensors');
    expect(specFromFiles([file('tokenizer.json'), weights, config, file('README.md')])).toEqual({
      kind: 'files',
      config,
      weights,
      name: 'model.safetensors',
    });
  });

  it('takes config.json over the other *config.json files of a hub folder; a lone one counts', () => {
    const config = file('config.json');
    const weights = file('model.safetensors');
    const folder = [file('generation_config.json'), file('tokenizer_config.json'), weights, config];
    expect(specFromFiles(folder)).toMatchObject({ config, weights });
    const renamed = file('gpt2-config.json');
    expect(specFromFiles([renamed, weights])).toMatchObject({ config: renamed, weights });
    expect(() => specFromFiles([file('a-config.json'), file('b-config.json'), weights])).toThrow(/Several config\.json files/);
  });

  it('says what is missing', () => {
    const message = (files: File[]) => {
      try {
        specFromFiles(files);
        return 'accepted';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(message([file('model.safetensors')])).toMatch(/No config\.json among the chosen files \(model\.safetensors\)/);
    expect(message([file('config.json'), file('pytorch_model.bin')])).toMatch(
      /PyTorch \.bin\/\.pt checkpoints cannot be read.*safe_serialization=True/,
    );
    expect(message([file('config.json'), file('a.safetensors'), file('b.safetensors')])).toMatch(/Several \.safetensors files/);
    expect(message([])).toMatch(/No \.safetensors file among the chosen files \(no files\)/);
  });
});

describe('ProgressTracker', () => {
  it('measures speed over a sliding window and derives the ETA', () => {
    let now = 0;
    const reports: LoadProgress[] = [];
    const tracker = new ProgressTracker(
      'network',
      (p) => reports.push(p),
      () => now,
    );
    tracker.begin('weights', 'model.safetensors', 10_000_000);
    for (let i = 0; i < 10; i++) {
      now += 500;
      tracker.addBytes(500_000); // 1 MB/s
    }
    const mid = tracker.snapshot();
    expect(mid.bytesDone).toBe(5_000_000);
    expect(mid.percent).toBe(50);
    expect(mid.bytesPerSecond).toBeCloseTo(1_000_000, -3);
    expect(mid.etaSeconds).toBeCloseTo(5, 1);
    expect(mid.message).toBe('Downloading model.safetensors: 5.00 MB of 10.0 MB (50%) · 1.00 MB/s · 5 s left');
    // The speed follows a slowdown within the window rather than averaging the whole download.
    for (let i = 0; i < 10; i++) {
      now += 500;
      tracker.addBytes(125_000); // 250 kB/s
    }
    expect(tracker.snapshot().bytesPerSecond!).toBeLessThan(300_000);
    now += 500;
    tracker.addBytes(3_750_000);
    const done = reports.at(-1)!;
    expect(done.bytesDone).toBe(10_000_000);
    expect(done.percent).toBe(100);
    expect(done.etaSeconds).toBe(0);
  });

  it('describes the config step without made-up numbers', () => {
    const reports: LoadProgress[] = [];
    new ProgressTracker('network', (p) => reports.push(p)).begin('config', 'config.json', 0);
    expect(reports[0].message).toBe('Downloading config.json…');
  });

  it('never shows 100% before the last byte, and reports no speed before it can be measured', () => {
    let now = 0;
    const tracker = new ProgressTracker('cache', undefined, () => now);
    tracker.begin('weights', 'model.safetensors', 100_000);
    now += 10;
    tracker.addBytes(99_999);
    expect(tracker.snapshot().percent).toBeLessThan(100);
    expect(tracker.snapshot().bytesPerSecond).toBeNull();
    expect(tracker.snapshot().message).toMatch(/^Reading cached model\.safetensors/);
  });
});

describe('byte ranges', () => {
  it('parses Content-Range', () => {
    expect(parseContentRange('bytes 0-7/548105171')).toEqual({ start: 0, end: 7, total: 548105171 });
    expect(parseContentRange('bytes 8-15/*')).toEqual({ start: 8, end: 15, total: null });
    expect(parseContentRange('items 0-1/2')).toBeNull();
    expect(parseContentRange(null)).toBeNull();
  });

  it('merges tensors into spans, splitting at gaps larger than the limit', () => {
    const t = (begin: number, end: number) => ({ name: `t${begin}`, dtype: 'F32', shape: [], begin, end });
    expect(mergeSpans([t(0, 100), t(100, 200), t(300, 400), t(10_000, 10_004)], 50, 100)).toEqual([
      { start: 50, end: 450 },
      { start: 10_050, end: 10_054 },
    ]);
    expect(mergeSpans([t(100, 200), t(0, 100)], 0, 0)).toEqual([{ start: 0, end: 200 }]);
  });
});

describe('hubCacheId', () => {
  it('files huggingface.co under plain keys and any other hub under its URL', () => {
    expect(hubCacheId(undefined)).toBeUndefined();
    expect(hubCacheId('https://huggingface.co')).toBeUndefined();
    expect(hubCacheId('https://huggingface.co/')).toBeUndefined();
    expect(hubCacheId('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(hubCacheId('https://mirror.example/hf//')).toBe('https://mirror.example/hf');
    expect(hubCacheId('https://HF-Mirror.example:443')).toBe('https://hf-mirror.example');
  });
});
