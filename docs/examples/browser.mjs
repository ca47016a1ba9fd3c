import { load } from "./vit/model.js"; // the folder `tesserae compile vit --weights DIR --out vit` wrote; bundle it with your page

/** Image embeddings of an ImageData (a canvas's getImageData) on the page's WebGPU device. */
export async function embed(image, weightsUrl = "vit/model.safetensors") {
  const model = await load({ weights: weightsUrl }); // fetched; or ArrayBuffers, tensors by name, { seed }
  const { outputs } = await model.run([image]); // preprocessing as the graph declares it
  model.dispose();
  return outputs.image_embeds; // { shape, data: Float32Array }
}
