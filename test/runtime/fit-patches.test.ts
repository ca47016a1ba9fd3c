import { describe, expect, it } from "vitest";
import { fitPatchesSize } from "../../runtime/image/fit-patches.ts";

describe("fit_patches (PixtralImageProcessor)", () => {
  it.each([
    // (width, height) -> get_resize_output_image_size's (height, width) for 1540 and 28 px, as (width, height).
    [640, 480, [644, 504]],
    [61, 47, [84, 56]],
    [150, 50, [168, 56]],
    [3000, 50, [1540, 28]],
    [20, 10, [28, 28]],
    [1540, 1541, [1540, 1540]],
  ])("%i x %i becomes %j", (w, h, want) => {
    expect(fitPatchesSize(w, h, 1540, 28)).toEqual(want);
  });
});
