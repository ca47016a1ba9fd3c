// What both entry points of `tesserae/runtime` (browser and Node) export.
export {
  Model,
  type ImageInput,
  type InputOptions,
  type ModelEvents,
  type ModelInput,
  type ModelOptions,
  type ModelOutput,
  type PixelValues,
  type Prepared,
  type RunOptions,
  type Scores,
  type TensorSpec,
} from "./model.ts";
export { kernelFiles, type ArtifactSource, type LoadArtifactOptions, type WeightsInput } from "./artifact.ts";
export { InputError, NoAdapterError, TesseraeError, UsageError, WeightsError } from "../core/errors.ts";
export { ImageError, type RgbImage } from "./image/image.ts";
export type { ImageLike } from "./image/rgb.ts";
export { LayoutError } from "./layout/sequence.ts";
export type { Segment, TokenLayout } from "./layout/types.ts";
export type { Grid } from "./geometry.ts";
export { encodeTexts, TokenizerError, type TextTokenizer } from "./layout/encode.ts";
export { layoutJson } from "./layout/json.ts";
export { adapterClass, contextFor, DeviceLostError, type GpuContext, type TargetChoice } from "./gpu-context.ts";
export { F16OverflowError } from "./executor/overflow.ts";
export { maxAbsDiff, tensor, type HostTensor, type WeightSource } from "./tensor.ts";
export { tensorsFromBuffer } from "./weights/safetensors-buffer.ts";
export type { VideoFrames } from "./inputs.ts";
