/**
 * Pixtral's get_resize_output_image_size: scaled down (floor) to fit longest x longest when larger, then
 * each side rounded up to a multiple of `multiple`. Returns (width, height).
 */
export function fitPatchesSize(width: number, height: number, longest: number, multiple: number): [number, number] {
  const ratio = Math.max(height / longest, width / longest);
  const [w, h] = ratio > 1 ? [Math.floor(width / ratio), Math.floor(height / ratio)] : [width, height];
  const up = (n: number): number => (Math.floor((n - 1) / multiple) + 1) * multiple;
  return [up(w), up(h)];
}
