import * as tf from "@tensorflow/tfjs";
import { frugalVariableGrads } from "./frugalVariableGrads.js";

interface EngineGradients {
  state: { activeTape: unknown };
  gradients(
    f: () => tf.Tensor,
    xs: tf.Tensor[],
    dy?: tf.Tensor,
    allowNoGradients?: boolean,
  ): { value: tf.Tensor; grads: (tf.Tensor | null)[] };
}

export interface RecomputeOptions {
  /**
   * Tensors `fn` reads that get no gradient (a padding mask): kept for backward as the inputs are,
   * and passed to `fn` after them — a tensor `fn` closed over may be gone by backward.
   */
  constants?: tf.Tensor[];
  /**
   * How the recomputed piece's own backward runs. `frugal` (default): through `frugalVariableGrads`,
   * which frees each node's saved tensors once its gradient has run and each gradient once passed on.
   * `engine`: through tfjs's `engine.gradients`, which keeps every intermediate of the piece and every
   * gradient it computes until the piece's backward ends (for the MLP piece of a smollm2-135m layer at
   * B 16 × L 156 with LoRA r 256 and dropout: 617 MiB against 320 MiB frugal). Same gradient bits.
   */
  backward?: "frugal" | "engine";
}

/**
 * Activation checkpointing for one piece of a network: `fn(...inputs)` runs without keeping its
 * intermediates for backward; only `inputs` (and `constants`) are kept, and backward runs `fn` again
 * on them under a tape to get the gradients for the inputs and for `variables` (the trainable weights
 * `fn` reads; list only those: each gets a gradient, zeros where `fn` does not read it). Memory: a
 * piece's saved activations become its inputs; cost: one more forward of the piece.
 *
 * The outputs are not kept either (several come out of one flat tensor by ops that keep nothing), so
 * an output nobody else keeps is freed after the forward pass.
 *
 * `fn` must compute the same values when run again — a dropout inside it needs a seed. Frozen
 * weights it reads need not be listed: they get no gradient. Works with tf.variableGrads and
 * frugalVariableGrads (backward runs outside their tapes, so the nested tape is allowed).
 */
export function recomputeInBackward(
  fn: (...inputs: tf.Tensor[]) => tf.Tensor[],
  inputs: tf.Tensor[],
  variables: tf.Variable[] = [],
  options: RecomputeOptions = {},
): tf.Tensor[] {
  const op = "recomputeInBackward";
  if (typeof fn !== "function") throw new Error(`${op}: fn must be a function returning tensors`);
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.some((t) => !(t instanceof tf.Tensor))) {
    throw new Error(`${op}: inputs must be a non-empty array of tensors`);
  }
  if (!Array.isArray(variables) || variables.some((v) => !(v instanceof tf.Variable))) {
    throw new Error(`${op}: variables must be an array of tf.Variable`);
  }
  if (options === null || typeof options !== "object") throw new Error(`${op}: options must be an object`);
  const { constants = [], backward = "frugal" } = options;
  if (!Array.isArray(constants) || constants.some((t) => !(t instanceof tf.Tensor))) {
    throw new Error(`${op}: options.constants must be an array of tensors`);
  }
  if (backward !== "frugal" && backward !== "engine") {
    throw new Error(`${op}: options.backward must be "frugal" or "engine", got ${JSON.stringify(backward)}`);
  }
  const trained = variables.filter((v) => v.trainable);
  const n = inputs.length;
  let shapes: number[][] = [];
  // tf.customGrad has one output: several are returned as one flat tensor, split outside.
  const flatten = (outputs: tf.Tensor[]): tf.Tensor =>
    outputs.length === 1 ? (outputs[0] as tf.Tensor) : tf.concat(outputs.map((o) => tf.reshape(o, [-1])));
  const custom = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, n) as tf.Tensor[];
    // Inside a custom op nothing is taped: fn's intermediates are freed as soon as they are used.
    const outputs = fn(...xs, ...constants);
    shapes = outputs.map((o) => o.shape);
    save([...xs, ...constants]);
    return {
      value: flatten(outputs),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const savedInputs = saved.slice(0, n);
        const savedConstants = saved.slice(n);
        // ⟨output, dy⟩: its gradient is the vector-Jacobian product backward needs.
        const inner = (...xs: tf.Tensor[]) => tf.sum(tf.mul(flatten(fn(...xs, ...savedConstants)), dy)) as tf.Scalar;
        const engine = tf.engine() as unknown as EngineGradients;
        // The nested backward replaces the engine's tape and clears it; the outer backward
        // (tf.variableGrads) still reads its own tape afterwards to free what it saved.
        const outerTape = engine.state.activeTape;
        if (backward === "engine") {
          const wrt = [...savedInputs, ...trained];
          try {
            const { value, grads } = engine.gradients(() => inner(...savedInputs), wrt, undefined, true);
            value.dispose();
            return grads.map((g, i) => g ?? tf.zerosLike(wrt[i] as tf.Tensor));
          } finally {
            engine.state.activeTape = outerTape;
          }
        }
        // frugalVariableGrads differentiates variables: the saved inputs as variables sharing their
        // data (no copy), untracked by any tidy so that they are disposed here.
        const inputVars = savedInputs.map((s) => tf.variable(s, true));
        try {
          const result = frugalVariableGrads(() => inner(...inputVars), [...inputVars, ...trained]);
          result.value.dispose();
          return [...inputVars, ...trained].map((v) => result.grads[v.name] ?? tf.zerosLike(v));
        } finally {
          engine.state.activeTape = outerTape;
          // Also when the recomputed backward throws (a full heap): variables outlive any tidy, and
          // every failed step would otherwise leave one registered per saved input.
          tf.dispose(inputVars);
        }
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const out = custom(...inputs, ...trained);
  if (shapes.length === 1) return [out];
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  return tf.split(out, sizes).map((part, i) => reshapeKeepingNothing(part, shapes[i] as number[]));
}

/**
 * tf.reshape keeps its input for backward (to read its shape), which would keep every output of the
 * piece alive until backward, whether anything else needs it or not.
 */
function reshapeKeepingNothing(x: tf.Tensor, shape: number[]): tf.Tensor {
  const from = x.shape;
  const f = tf.customGrad(((t: tf.Tensor) => ({
    value: tf.reshape(t, shape),
    gradFunc: (dy: tf.Tensor) => tf.reshape(dy, from),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x);
}
