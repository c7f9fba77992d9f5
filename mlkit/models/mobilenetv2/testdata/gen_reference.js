// gen_reference.js computes the reference MobileNetV2 embeddings with TensorFlow.js (pure-JS CPU backend)
// from the very same model.json/weights.bin the Go code loads, for the images in inputs.u8
// (written by gen_inputs.go). Output: embeddings.f32, little-endian float32 [N, 1280]: the global average
// pool of "out_relu" (the Teachable Machine base model "sequential_5" = model2 + GlobalAveragePooling2D),
// and out_relu_corner.f32: out_relu[:, 0, 0, :] [N, 1280], a spatial check that pooling cannot hide.
//
// Run (needs Node 18+; outside the repository, nothing is committed from node_modules):
//   mkdir -p /tmp/tfjsref && cd /tmp/tfjsref && npm install @tensorflow/tfjs@4
//   NODE_PATH=/tmp/tfjsref/node_modules node mlkit/models/mobilenetv2/testdata/gen_reference.js \
//       ../shared/models/mobilenet_v2_035_tfjs mlkit/models/mobilenetv2/testdata
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const path = require('path');

async function main() {
  const [modelDir, outDir] = process.argv.slice(2);
  if (!modelDir || !outDir) throw new Error('usage: gen_reference.js MODEL_DIR TESTDATA_DIR');
  await tf.setBackend('cpu');
  const mj = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const specs = [], bufs = [];
  for (const g of mj.weightsManifest) {
    specs.push(...g.weights);
    for (const p of g.paths) bufs.push(fs.readFileSync(path.join(modelDir, p)));
  }
  const all = Buffer.concat(bufs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const model = await tf.loadLayersModel(tf.io.fromMemory({modelTopology: mj.modelTopology, weightSpecs: specs, weightData}));
  const base = model.layers[0];                    // sequential_5: model2 + GlobalAveragePooling2D
  const model2 = base.layers[0];                   // Keras MobileNetV2 up to out_relu
  if (model2.outputs[0].shape[3] !== 1280) throw new Error('unexpected model2 output ' + model2.outputs[0].shape);

  const u8 = fs.readFileSync(path.join(outDir, 'inputs.u8'));
  const n = u8.length / (224 * 224 * 3);
  const x = tf.tidy(() => tf.tensor4d(Float32Array.from(u8), [n, 224, 224, 3], 'float32').div(127.5).sub(1));
  const emb = base.predict(x);
  const feat = model2.predict(x);
  const corner = feat.slice([0, 0, 0, 0], [n, 1, 1, 1280]).reshape([n, 1280]);
  const e = await emb.data(), c = await corner.data();
  fs.writeFileSync(path.join(outDir, 'embeddings.f32'), Buffer.from(e.buffer, e.byteOffset, e.byteLength));
  fs.writeFileSync(path.join(outDir, 'out_relu_corner.f32'), Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  console.log(`tfjs ${tf.version.tfjs} backend ${tf.getBackend()}: ${n} images, embedding shape ${emb.shape},` +
    ` first values ${Array.from(e.slice(0, 4)).map(v => v.toFixed(5))}`);
}
main().catch(err => { console.error(err); process.exit(1); });
