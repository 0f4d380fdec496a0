// Bad files: typed errors that say what to do, and no tensors left behind; content detection with isOnnx.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '@easy-explain/core/internal';
import { convertOnnx, isOnnx } from '@easy-explain/onnx';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnxModelType } from '../src/proto';
import { SHARED, onnxBytes, useBackend } from './helpers';

const tiny = onnxBytes('tiny_cnn');

/** tiny_cnn decoded, edited and encoded again. */
function edited(edit: (model: any) => void): Uint8Array {
  const type = onnxModelType();
  const model = type.toObject(type.decode(tiny), { longs: Number, bytes: Array }) as any;
  edit(model);
  return type.encode(type.fromObject(model)).finish();
}

async function expectInvalid(bytes: Uint8Array, message: RegExp): Promise<void> {
  const before = tf.memory().numTensors;
  const error = await convertOnnx(bytes).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ExplainError);
  expect((error as ExplainError).code).toBe('invalid_model');
  expect((error as Error).message).toMatch(message);
  expect(tf.memory().numTensors).toBe(before);
}

describe('ONNX files that cannot be converted', () => {
  beforeAll(() => useBackend('cpu'));

  it('isOnnx detects ONNX by content', () => {
    expect(isOnnx(tiny)).toBe(true);
    expect(isOnnx(onnxBytes('resnet18'))).toBe(true);
    expect(isOnnx(new Uint8Array(0))).toBe(false);
    expect(isOnnx(tiny.subarray(0, tiny.length - 1000))).toBe(false);
    expect(isOnnx(new Uint8Array(readFileSync(join(SHARED, 'images', 'chelsea.png'))))).toBe(false);
    expect(isOnnx(new Uint8Array(readFileSync(join(SHARED, 'models', 'mobilenet_v1_0.75_224', 'model.json'))))).toBe(false);
  });

  it('converting and disposing leaves the tensor count unchanged', async () => {
    const before = tf.memory().numTensors;
    const model = await convertOnnx(tiny);
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('empty bytes', () => expectInvalid(new Uint8Array(0), /empty/));
  it('truncated file', () => expectInvalid(tiny.subarray(0, Math.floor(tiny.length / 2)), /not a valid ONNX model.*truncated/));
  it('a PNG', () => expectInvalid(new Uint8Array(readFileSync(join(SHARED, 'images', 'chelsea.png'))), /ONNX/));

  it('an unsupported operator names the operator, the node and what to do', () =>
    expectInvalid(
      edited((m) => {
        m.graph.node[3].op_type = 'LSTM';
      }),
      /operator LSTM \(node "\/relu2\/Relu"\) is not supported.*open an issue/,
    ));

  it('an unsupported attribute fails after layers were made, without leaking their weights', () =>
    expectInvalid(
      edited((m) => {
        const pool = m.graph.node.find((n: any) => n.op_type === 'MaxPool');
        pool.attribute.push({ name: 'dilations', type: 7, ints: [2, 2] });
      }),
      /"\/pool\/MaxPool" \(MaxPool, opset 13\): dilated pooling/,
    ));

  it('weights in an external data file', () =>
    expectInvalid(
      edited((m) => {
        const w = m.graph.initializer[0];
        w.data_location = 1;
        w.external_data = [{ key: 'location', value: 'weights.bin' }];
        w.raw_data = [];
      }),
      /external data file.*Re-export/,
    ));

  it('several inputs', () =>
    expectInvalid(
      edited((m) => {
        m.graph.input.push({ ...m.graph.input[0], name: 'second' });
      }),
      /2 inputs/,
    ));

  it('a non-image input', () =>
    expectInvalid(
      edited((m) => {
        m.graph.input[0].type.tensor_type.shape.dim = m.graph.input[0].type.tensor_type.shape.dim.slice(0, 2);
      }),
      /not an image batch/,
    ));

  it('a model without an opset', () =>
    expectInvalid(
      edited((m) => {
        m.opset_import = [];
      }),
      /no graph, IR version or opset/,
    ));
});
