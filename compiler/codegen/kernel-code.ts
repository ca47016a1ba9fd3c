import type { Dim } from "../../core/dims.ts";
import type { Dispatch } from "../../core/plan.ts";
import type { KernelTiling } from "./tiling.ts";
import type { Binding, KernelWriter } from "./writer.ts";

/** What a kernel generator gives: WGSL, its bindings and uniforms, and how to dispatch it. */
export interface KernelCode {
  wgsl: string;
  /** The tiling a matmul or attention kernel was generated with. */
  tiling?: KernelTiling;
  bindings: Binding[];
  uniforms: Dim[];
  dispatch: Dispatch;
  /** It binds the run's f16 overflow flag after its uniforms (f16 storage with range checks). */
  checksRange?: boolean;
}

/** The kernel code a writer holds once the entry point is written. */
export function finish(w: KernelWriter, entry: string, dispatch: Dispatch): KernelCode {
  return { wgsl: w.module(entry), bindings: w.bindings, uniforms: w.uniforms, dispatch };
}
