import { describe, expect, it } from "vitest";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { expectProcessorRun, expectRunMatches, layoutSegments } from "../helpers/run-outputs.ts";

// `tesserae run` on the families whose tiny checkpoints transformers 5.18 saved itself, with its processors'
// tensors and prompts as the references (scripts/fixtures/make_{family,idefics3,pixtral,siglip2,qwen3_vl}_references.py).

const THREE = ["odd-rgba.png", "tall-gray.png", "wide.png"];

describe.concurrent("tesserae run on checkpoints transformers saved, against its processors and models", () => {
  it("PaliGemma (PaliGemmaForConditionalGeneration): SigLIP's tokens through the linear projector; 16 <image> tokens, then <bos>", async () => {
    const { out } = await expectRunMatches("graphs/paligemma.tsr", "paligemma", THREE, "test/fixtures/reference/paligemma.safetensors");
    // PaliGemmaProcessor: the images, then <bos>, then the (empty) prompt and its "\n".
    expect(layoutSegments(out).map((s) => [s.token ?? "text", s.length, s.id ?? null])).toEqual([
      ...Array(3).fill(["<image>", 16, 257]),
      ["<bos>", 1, 256],
      ["text", 1, null],
    ]);
  });

  it("Gemma 3 (Gemma3ForConditionalGeneration): SigLIP, 2x2 average pool, Gemma's RMSNorm, projection; its image layout", async () => {
    const { out } = await expectRunMatches("graphs/gemma3.tsr", "gemma3", THREE, "test/fixtures/reference/gemma3.safetensors");
    // Gemma3Processor's full_image_sequence: "\n\n" (two tokens of the fixture's tokenizer) around each image.
    expect(
      layoutSegments(out)
        .slice(0, 5)
        .map((s) => [s.token ?? "text", s.length, s.id ?? null]),
    ).toEqual([
      ["text", 2, null],
      ["<start_of_image>", 1, 290],
      ["<image_soft_token>", 9, 292],
      ["<end_of_image>", 1, 291],
      ["text", 4, null],
    ]);
  });

  it("Gemma 3 with pan and scan (Gemma3Processor asked for it): crops of the long images, each one more image sequence after the processor's words", async () => {
    const { again } = await expectProcessorRun({
      graph: "graphs/gemma3.tsr",
      fixture: "gemma3",
      reference: "gemma3-pas",
      images: THREE,
      sets: ["--set", "pan_and_scan=true", "--set", "min_crop=8"],
      outputs: ["last_hidden_state", "image_embeds"],
      integers: ["num_crops"],
      prompt: true,
      fromPixelValues: ["image_embeds"],
      layoutFromPixelValues: true,
    });
    // From the processor's tensors: num_crops tells the layout each image's crops (2, 2 and 3 besides the image).
    expect(
      layoutSegments(again)
        .filter((s) => s.token === "<image_soft_token>")
        .map((s) => s.length),
    ).toEqual(Array(10).fill(9));
  });

  it.each(["internvl", "internvl-rms"])(
    "InternVL (%s, InternVLForConditionalGeneration): closest-aspect tiles and thumbnails, InternViT, pixel shuffle, projector",
    async (fixture) => {
      const { again } = await expectProcessorRun({
        graph: "graphs/internvl.tsr",
        fixture,
        reference: fixture,
        images: THREE,
        outputs: ["last_hidden_state", "image_embeds"],
        integers: ["num_patches"],
        fromPixelValues: ["image_embeds"],
      });
      // From the processor's own tensors: num_patches tells the layout each image's tiles.
      expect(
        layoutSegments(again)
          .filter((s) => s.token === "<IMG_CONTEXT>")
          .map((s) => s.length),
      ).toEqual([28, 28, 16]);
    },
  );

  it.each([
    ["idefics3", "idefics3", []],
    ["smolvlm", "smolvlm", []],
    ["idefics3", "idefics3-whole", ["--set", "split=false"]],
  ])(
    "Idefics3 / SmolVLM (%s, reference %s): LANCZOS resizes, tiles and the global view, SigLIP, pixel shuffle, projection; the prompt's input_ids; from the 5-D pixel_values too",
    async (fixture, reference, sets) => {
      await expectProcessorRun({
        graph: "graphs/idefics3.tsr",
        fixture,
        reference,
        images: THREE,
        sets,
        outputs: ["last_hidden_state", "image_embeds"],
        integers: ["pixel_attention_mask"],
        prompt: true,
        fromPixelValues: ["image_embeds"],
      });
    },
  );

  it("Pixtral (PixtralVisionModel): three sizes, zero-padded and unpadded into one sequence, axial rotary, attention within each image", async () => {
    const { out } = await expectProcessorRun({
      graph: "graphs/pixtral.tsr",
      fixture: "pixtral",
      reference: "pixtral",
      images: THREE,
      outputs: ["last_hidden_state"],
      integers: ["image_sizes"],
      fromPixelValues: ["last_hidden_state"],
    });
    expect(layoutSegments(out).filter((s) => s.token === "[IMG]").length).toBe(5 + 6 + 2);
    // The processor gives image_sizes; the grids follow from them.
    expect(SafetensorsFile.open(out).tensors.has("grid_thw")).toBe(false);
  });

  it("Mistral 3 (Mistral3ForConditionalGeneration): the patch merger and projector, [IMG] rows with [IMG_BREAK] and [IMG_END]; from images and from the processor's tensors", async () => {
    const { again } = await expectProcessorRun({
      graph: "graphs/pixtral.tsr",
      fixture: "mistral3",
      reference: "mistral3",
      images: THREE,
      outputs: ["last_hidden_state", "image_embeds"],
      integers: ["image_sizes"],
      prompt: true,
      fromPixelValues: ["image_embeds"],
    });
    // [IMG] rows of each image: 3 rows of 3, 3 of 2, 1 of 3 tokens; [IMG_BREAK] or [IMG_END] after each row.
    expect(layoutSegments(again).map((s) => s.length)).toEqual([3, 1, 3, 1, 3, 1, 2, 1, 2, 1, 2, 1, 3, 1]);
  });

  it("Pixtral-12B as the hub has it (LlavaForConditionalGeneration with a Pixtral tower): LLaVA's projector on every patch, [IMG] rows", async () => {
    await expectProcessorRun({
      graph: "graphs/pixtral.tsr",
      fixture: "llava-pixtral",
      reference: "llava-pixtral",
      images: THREE,
      outputs: ["last_hidden_state", "image_embeds"],
      integers: ["image_sizes"],
      prompt: true,
      fromPixelValues: ["image_embeds"],
      layoutFromPixelValues: true,
    });
  });

  it("SigLIP 2 NaFlex (Siglip2VisionModel): three aspect ratios within 20 patches, the table resized per image, masked attention and pooling, padding rows included", async () => {
    await expectProcessorRun({
      graph: "graphs/siglip2.tsr",
      fixture: "siglip2",
      reference: "siglip2",
      images: THREE,
      outputs: ["last_hidden_state", "image_embeds"],
      integers: ["pixel_attention_mask", "spatial_shapes"],
      fromPixelValues: ["last_hidden_state", "image_embeds"],
    });
  });

  it("Qwen3-VL (Qwen3VLForConditionalGeneration): the position table's bilinear taps, DeepStack mergers, the merger; input_ids and M-RoPE positions as get_rope_index gives them", async () => {
    await expectProcessorRun({
      graph: "graphs/qwen3-vl.tsr",
      fixture: "qwen3-vl",
      reference: "qwen3-vl",
      images: ["odd-rgba.png", "wide.png"],
      outputs: ["last_hidden_state", "image_embeds", "deepstack_features_0", "deepstack_features_1"],
      integers: [["grid_thw", "image_grid_thw"]],
      prompt: true,
      fromPixelValues: ["image_embeds", "deepstack_features_1"],
      layoutFromPixelValues: true,
    });
  });

  it.each(["dinov2", "dinov2-swiglu", "dinov2-registers"])(
    "DINOv2 (%s, Dinov2Model / Dinov2WithRegistersModel): the 4x4 position table resized bicubically to the 5x5 grid, layer scale, pooler_output",
    async (fixture) => {
      await expectRunMatches("graphs/dinov2.tsr", fixture, THREE, `test/fixtures/reference/${fixture}.safetensors`);
    },
  );
});
