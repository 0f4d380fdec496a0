// One worker of bench/native.mjs's thread comparison: its own onnxruntime session with `threads` intra-op threads.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

const session = await ort.InferenceSession.create(workerData.onnx, { intraOpNumThreads: workerData.threads, interOpNumThreads: 1 });
parentPort.on('message', async ({ data, dims }) => {
  await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, dims) });
  parentPort.postMessage('done');
});
parentPort.postMessage('ready');
