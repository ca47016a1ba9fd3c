/** A Qwen image's or video's patch grid: (t, h, w). */
export type Grid = [number, number, number];
