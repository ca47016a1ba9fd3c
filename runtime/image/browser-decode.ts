import { ImageError, type RgbImage } from "./image.ts";

async function fetchImage(url: string, name: string): Promise<Blob> {
  let r: Response;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new ImageError(`image ${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!r.ok) throw new ImageError(`image ${name}: HTTP ${r.status}`);
  return r.blob();
}

/**
 * Pixels of an image file as PIL's convert("RGB") gives them: alpha dropped, not composited. A 2D
 * canvas would premultiply by alpha and round, so the decoded bitmap goes through a GPU texture copy
 * that keeps the stored values.
 */
export async function decodeInBrowser(dev: GPUDevice, image: Blob | Uint8Array | string, name: string): Promise<RgbImage> {
  const blob =
    typeof image === "string" ? await fetchImage(image, name) : image instanceof Blob ? image : new Blob([new Uint8Array(image)]);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none", imageOrientation: "from-image" });
  } catch (e) {
    throw new ImageError(`image ${name}: the browser cannot decode it (${e instanceof Error ? e.message : String(e)})`);
  }
  const [width, height] = [bitmap.width, bitmap.height];
  const texture = dev.createTexture({
    size: [width, height],
    format: "rgba8unorm",
    usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC | GPUTextureUsage.RENDER_ATTACHMENT,
  });
  dev.queue.copyExternalImageToTexture({ source: bitmap }, { texture, premultipliedAlpha: false }, [width, height]);
  const bytesPerRow = Math.ceil((width * 4) / 256) * 256;
  const buffer = dev.createBuffer({ size: bytesPerRow * height, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const encoder = dev.createCommandEncoder();
  encoder.copyTextureToBuffer({ texture }, { buffer, bytesPerRow }, [width, height]);
  dev.queue.submit([encoder.finish()]);
  await buffer.mapAsync(GPUMapMode.READ);
  const rgba = new Uint8Array(buffer.getMappedRange());
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set(rgba.subarray(y * bytesPerRow + x * 4, y * bytesPerRow + x * 4 + 3), (y * width + x) * 3);
  buffer.unmap();
  buffer.destroy();
  texture.destroy();
  return { width, height, data };
}
