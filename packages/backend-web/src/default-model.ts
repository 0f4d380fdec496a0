// Its own module so that page code (createExplainer) can name the default model without importing TF.js.
/** The model `@tensorflow-models/mobilenet` 1.x loaded: MobileNet v1, width 0.75, 224×224, probabilities. */
export const DEFAULT_MODEL_URL = 'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.75_224/model.json';
