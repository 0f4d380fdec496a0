import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IMAGENET_CLASSES } from '@easy-explain/core';
import { readJson, SHARED } from './helpers.js';

describe('IMAGENET_CLASSES', () => {
  it('equals the shared plain ImageNet label array, index for index', () => {
    const shared = readJson<string[]>(join(SHARED, 'models/imagenet_labels/imagenet_labels.json'));
    expect(shared).toHaveLength(1000);
    expect([...IMAGENET_CLASSES]).toEqual(shared);
  });

  it("agrees with imagenet_class_index.json's short names on the first synonym (107 is spelt differently)", () => {
    const index = readJson<Record<string, [string, string]>>(join(SHARED, 'models/imagenet_labels/imagenet_class_index.json'));
    const differ: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const first = IMAGENET_CLASSES[i].split(',')[0].trim().replace(/ /g, '_');
      if (first.toLowerCase() !== index[String(i)][1].toLowerCase()) differ.push(i);
    }
    expect(IMAGENET_CLASSES[285]).toBe('Egyptian cat');
    expect(differ).toEqual([107]); // "jellyfish" here, "jelly_fish" there

  });

  it('is frozen', () => {
    expect(Object.isFrozen(IMAGENET_CLASSES)).toBe(true);
  });
});
