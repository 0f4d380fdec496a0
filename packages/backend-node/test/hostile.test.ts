// Hostile model files and servers (issue 11): a test server on 127.0.0.1 plays the attacker; the file system is
// checked afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDefaultModel, loadModel, setupBackend } from '@easy-explain/backend-node';
import { hostileServer, removeDir, saveTinyModel, tempDir } from './helpers';

let dir: string;
let tinyJson: { modelTopology: unknown; weightsManifest: { paths: string[]; weights: unknown[] }[] };
let tinyWeights: Uint8Array;
beforeAll(async () => {
  await setupBackend('cpu');
  dir = tempDir('ee-hostile-');
  const path = await saveTinyModel(join(dir, 'tiny'));
  tinyJson = JSON.parse(readFileSync(path, 'utf8'));
  tinyWeights = readFileSync(join(dir, 'tiny', 'weights.bin'));
});
afterAll(() => removeDir(dir));

/** The tiny model's model.json with its one group's paths and weights replaced. */
function manifestWith(group: unknown): string {
  return JSON.stringify({ ...tinyJson, weightsManifest: [group] });
}

describe('shard paths stay inside the model folder or cache entry', () => {
  it('a downloaded model.json naming ../, absolute or other-host shards writes nothing and fetches nothing', async () => {
    const victim = join(dir, 'victim.sh');
    writeFileSync(victim, 'original');
    const hostile = [
      `${'../'.repeat(12)}${victim.slice(1)}`, // the probe that overwrote /tmp/victim.sh
      '../victim.sh',
      'a/../../victim.sh',
      '%2e%2e/victim.sh',
      victim, // absolute
      'http://127.0.0.1:9/evil.bin',
      '//127.0.0.1:9/evil.bin',
      'a\\..\\..\\victim.sh',
      'weights.bin\u0000.txt',
      'C:evil.bin',
      'weights.bin?x=1',
    ];
    for (const [i, path] of hostile.entries()) {
      const server = await hostileServer({
        '/model.json': manifestWith({ paths: [path], weights: tinyJson.weightsManifest[0].weights }),
        '/weights.bin': tinyWeights,
      });
      const cacheDir = join(dir, `cache-${i}`);
      try {
        const error = await loadDefaultModel({ url: `${server.url}model.json`, cacheDir }).catch((e) => e);
        expect(error.code, path).toBe('model_not_found'); // the default model's wrapper ...
        expect(error.cause?.code, path).toBe('invalid_model'); // ... around the manifest's refusal
        expect(error.message).toContain('weight shard path');
        expect(error.message).toContain('weightsManifest[0].paths[0]');
        expect(server.requests, path).toEqual(['/model.json']); // no shard fetched, from here or elsewhere
        expect(readFileSync(victim, 'utf8')).toBe('original');
        // Nothing written: no cache entry, no partial folder left behind.
        expect(existsSync(join(cacheDir, 'models')) ? readdirSync(join(cacheDir, 'models')) : []).toEqual([]);
      } finally {
        await server.close();
      }
    }
  });

  it('a local model.json naming a shard outside its folder is refused before reading it', async () => {
    const folder = join(dir, 'local-escape');
    await saveTinyModel(folder);
    for (const path of ['../tiny/weights.bin', '/dev/zero', `${'../'.repeat(12)}dev/zero`]) {
      writeFileSync(join(folder, 'model.json'), manifestWith({ paths: [path], weights: tinyJson.weightsManifest[0].weights }));
      await expect(loadModel(join(folder, 'model.json'))).rejects.toMatchObject({
        code: 'invalid_model',
        message: expect.stringContaining(JSON.stringify(path)),
      });
    }
  });
});

describe('a weightsManifest is checked completely before anything is read', () => {
  const weights = () => tinyJson.weightsManifest[0].weights as { name: string; shape: number[]; dtype: string }[];
  const cases: [string, () => unknown, RegExp][] = [
    ['a group without paths', () => ({ weights: weights() }), /weightsManifest\[0\] has no list of paths/],
    ['a null group', () => null, /weightsManifest\[0\] is not an object/],
    ['a string paths', () => ({ paths: 'weights.bin', weights: weights() }), /weightsManifest\[0\] has no list of paths/],
    ['no weights', () => ({ paths: ['weights.bin'] }), /weightsManifest\[0\] has no list of weights/],
    ['a weight without shape', () => ({ paths: ['weights.bin'], weights: [{ name: 'w', dtype: 'float32' }] }), /weights\[0\] \("w"\) has no shape/],
    ['a negative dimension', () => ({ paths: ['weights.bin'], weights: [{ name: 'w', shape: [-1], dtype: 'float32' }] }), /shape \[-1\]/],
    ['an unknown dtype', () => ({ paths: ['weights.bin'], weights: [{ name: 'w', shape: [1], dtype: 'float64' }] }), /dtype "float64"/],
    ['a number as path', () => ({ paths: [7], weights: weights() }), /weight shard path 7 .* is not a string/],
    ['an overflowing size', () => ({ paths: ['weights.bin'], weights: [{ name: 'w', shape: [2 ** 40, 2 ** 40], dtype: 'float32' }] }), /more weight bytes than can be counted/],
  ];
  for (const [what, group, message] of cases) {
    it(`refuses ${what} with invalid_model naming the entry`, async () => {
      const folder = join(dir, `manifest-${what.replace(/\W+/g, '-')}`);
      await saveTinyModel(folder);
      writeFileSync(join(folder, 'model.json'), manifestWith(group()));
      const error = await loadModel(join(folder, 'model.json')).catch((e) => e);
      expect(error.code).toBe('invalid_model');
      expect(error.message).toMatch(message);
      expect(error.message).toContain(join(folder, 'model.json'));
      expect(error.message).not.toContain('\n');
    });
  }
});
