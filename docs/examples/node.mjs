import { compile, load, readTensors } from "tesserae";

const [graph, weights, pixelValues] = process.argv.slice(2); // "vit", a checkpoint folder, a processor's pixel_values.safetensors
const compiled = compile(graph, { weights }); // a bundled graph, a .tsr path or source text; config from the checkpoint
const model = await load(compiled, { onWarning: (m) => console.warn(m) }); // Dawn's device, weights checked and uploaded
const { outputs } = await model.run({ pixel_values: readTensors(pixelValues).get("pixel_values") }); // or model.run(["cat.jpg"])
for (const [name, t] of Object.entries(outputs)) console.log(JSON.stringify({ name, shape: t.shape, data: Array.from(t.data) }));
model.dispose();
