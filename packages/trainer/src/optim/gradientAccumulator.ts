import * as tf from "@tensorflow/tfjs";
import type { TensorRecord } from "../run/checkpointData.js";

/**
 * Sums gradients over micro-batches and hands back their mean, so that B chunks processed as k
 * micro-batches of B/k give the same update as one batch (when each micro-batch's loss is a mean
 * over equally many items). The running sums live in JavaScript Float32Arrays, not on the device:
 * with the paper's 32 batches per update they are held for the whole accumulation, and on wasm the
 * device is the 4 GiB heap that the step's activations need. Summing in a Float32Array rounds each
 * addition to float32 exactly as a float32 tf.add does. The gradients passed to `add` stay the
 * caller's to dispose.
 */
export class GradientAccumulator {
  private sums: Map<string, Float32Array> | undefined;
  private shapes = new Map<string, number[]>();
  private n = 0;

  /** Micro-batches added since the last reset. */
  get count(): number {
    return this.n;
  }

  add(grads: tf.NamedTensorMap): void {
    const op = "GradientAccumulator.add";
    if (grads === null || typeof grads !== "object") throw new Error(`${op}: grads must be a {name: tensor} map`);
    const entries = Object.entries(grads);
    if (entries.length === 0) throw new Error(`${op}: grads is empty`);
    for (const [name, g] of entries) {
      if (!(g instanceof tf.Tensor) || g.isDisposed)
        throw new Error(`${op}: grads["${name}"] must be a live tf.Tensor`);
      const shape = this.shapes.get(name);
      if (this.sums !== undefined && shape === undefined) {
        throw new Error(
          `${op}: micro-batch ${this.n} has gradient "${name}", the first had only ${[...this.shapes.keys()].join(", ")}`,
        );
      }
      if (shape && (shape.length !== g.shape.length || shape.some((d, i) => d !== g.shape[i]))) {
        throw new Error(
          `${op}: gradient "${name}" of micro-batch ${this.n} has shape [${g.shape.join(", ")}], earlier ones [${shape.join(", ")}]`,
        );
      }
    }
    if (this.sums !== undefined) {
      const missing = [...this.shapes.keys()].filter((name) => !(name in grads));
      if (missing.length > 0) throw new Error(`${op}: micro-batch ${this.n} lacks gradients ${missing.join(", ")}`);
    }
    const sums = this.sums ?? new Map<string, Float32Array>();
    for (const [name, g] of entries) {
      const values = g.dataSync() as ArrayLike<number>;
      const sum = sums.get(name);
      if (sum === undefined) {
        sums.set(name, Float32Array.from(values));
        this.shapes.set(name, [...g.shape]);
      } else {
        for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (values[i] as number);
      }
    }
    this.sums = sums;
    this.n++;
  }

  /** Mean of the gradients added since the last reset: new tensors, the caller's to dispose. */
  average(): tf.NamedTensorMap {
    if (this.sums === undefined)
      throw new Error("GradientAccumulator.average: no gradients added since the last reset");
    const out: tf.NamedTensorMap = {};
    for (const [name, sum] of this.sums) {
      // A float32 division, as tf.div rounds it (the float64 quotient of two float32s rounds the same).
      const mean = this.n === 1 ? sum.slice() : sum.map((x) => x / this.n);
      out[name] = tf.tensor(mean, this.shapes.get(name), "float32");
    }
    return out;
  }

  /** Drops the sums, ready for the next accumulation. */
  reset(): void {
    this.sums = undefined;
    this.shapes.clear();
    this.n = 0;
  }

  /** The running sums (copies) and how many micro-batches they hold — for checkpoints. */
  exportSums(): { count: number; tensors: Record<string, TensorRecord> } {
    const tensors: Record<string, TensorRecord> = {};
    for (const [name, sum] of this.sums ?? []) {
      tensors[name] = { shape: [...(this.shapes.get(name) as number[])], data: sum.slice() };
    }
    return { count: this.n, tensors };
  }

  /** Replaces the state with `exportSums` output (count 0 = empty), so a resumed run adds to the same sums. */
  importSums(state: { count: number; tensors: Record<string, TensorRecord> }): void {
    const op = "GradientAccumulator.importSums";
    const names = Object.keys(state.tensors);
    if (!Number.isInteger(state.count) || state.count < 0)
      throw new Error(`${op}: count must be a non-negative integer, got ${String(state.count)}`);
    if ((state.count === 0) !== (names.length === 0))
      throw new Error(`${op}: count ${state.count} with ${names.length} gradient sums; both must be zero or neither`);
    this.reset();
    if (state.count === 0) return;
    this.sums = new Map();
    for (const [name, r] of Object.entries(state.tensors)) {
      this.sums.set(name, r.data.slice());
      this.shapes.set(name, [...r.shape]);
    }
    this.n = state.count;
  }

  dispose(): void {
    this.reset();
  }
}
