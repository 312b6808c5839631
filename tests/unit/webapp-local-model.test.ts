import { describe, expect, test } from 'vitest';
import { checkpointFiles, localModelName, localModelSpec, type LocalFile } from '../../src/ui/localModel';

const local = (path: string, text = ''): LocalFile => ({ file: new File([text], path.split('/').pop()!), path });
const CONFIG = JSON.stringify({ model_type: 'gpt2', n_layer: 2 });

describe('a checkpoint from this computer', () => {
  test('is named after its folder, else config.json\'s _name_or_path, else "local files"; never model.safetensors', () => {
    expect(localModelName('gpt2-finetuned/config.json', { _name_or_path: 'gpt2' })).toBe('gpt2-finetuned');
    expect(localModelName('models/sherlock/config.json', null)).toBe('sherlock');
    expect(localModelName('config.json', { _name_or_path: 'openai-community/gpt2' })).toBe('openai-community/gpt2');
    expect(localModelName('config.json', { _name_or_path: '/home/me/runs/holmes-gpt2/' })).toBe('holmes-gpt2');
    expect(localModelName('config.json', { _name_or_path: 'C:\\models\\watson' })).toBe('watson');
    expect(localModelName('config.json', { _name_or_path: '' })).toBe('local files');
    expect(localModelName('config.json', null)).toBe('local files');
  });

  test('from a folder: its own files, and config.json over generation_config.json and the like', () => {
    const folder = [
      'gpt2/config.json',
      'gpt2/generation_config.json',
      'gpt2/tokenizer_config.json',
      'gpt2/model.safetensors',
      'gpt2/onnx/model.safetensors',
    ].map((p) => local(p));
    expect(checkpointFiles(folder).map((f) => f.path)).toEqual(['gpt2/config.json', 'gpt2/model.safetensors']);
    // Loose files keep a renamed config (my-config.json) when there is no config.json.
    const loose = [local('my-config.json'), local('model.safetensors')];
    expect(checkpointFiles(loose)).toEqual(loose);
  });

  test('the spec carries the name; files that are not a checkpoint say what is missing', async () => {
    const spec = await localModelSpec([
      local('holmes/config.json', CONFIG),
      local('holmes/generation_config.json', '{}'),
      local('holmes/model.safetensors', 'x'),
    ]);
    expect(spec).toMatchObject({ kind: 'files', name: 'holmes' });
    const named = await localModelSpec([
      local('config.json', JSON.stringify({ _name_or_path: 'someone/tiny' })),
      local('model.safetensors', 'x'),
    ]);
    expect(named).toMatchObject({ kind: 'files', name: 'someone/tiny' });
    const plain = await localModelSpec([local('config.json', 'not json'), local('model.safetensors', 'x')]);
    expect(plain).toMatchObject({ kind: 'files', name: 'local files' });
    await expect(localModelSpec([local('notes.txt', 'hello')])).rejects.toThrow(
      /No \.safetensors file among the chosen files \(notes\.txt\)/,
    );
    await expect(localModelSpec([local('model.safetensors', 'x')])).rejects.toThrow(/No config\.json/);
  });
});
