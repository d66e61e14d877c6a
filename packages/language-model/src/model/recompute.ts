import { frugalVariableGrads } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";

interface EngineTape {
  state: { activeTape: unknown };
}

/**
 * Activation checkpointing for one piece of a decoder layer, as @revela/kernels'
 * `recomputeInBackward` — `fn(...inputs)` runs without keeping its intermediates, only `inputs` are
 * kept, and backward runs `fn` again to get the gradients for the inputs and for the trainable
 * `variables` — with the recomputed piece's own backward run by `frugalVariableGrads` instead of
 * tfjs's `engine.gradients`. Why: `engine.gradients` keeps every intermediate of the recomputed
 * piece and every gradient it computes until the piece's backward ends; for the MLP piece of a
 * smollm2-135m layer at B 16 × L 156 with LoRA r 256 and dropout that was 617 MiB, the largest
 * single item of a training step's peak after the activations (issue 15). Frugal backward frees
 * each node's saved tensors once its gradient has run and each gradient once passed on.
 *
 * `fn` must compute the same values when run again (a dropout inside it needs a seed). Frozen
 * weights it reads need not be listed: they get no gradient. `constants` are tensors `fn` reads but
 * that get no gradient (a padding mask): kept for backward, as the inputs are, and passed to `fn`
 * after them — a tensor `fn` closed over may be gone by backward. Works under frugalVariableGrads and
 * tf.variableGrads (backward runs outside their tapes, so the nested tape is allowed).
 *
 * Only the inputs and constants are kept: the outputs are not (several outputs come out of one flat
 * tensor by ops that keep nothing), so an output nobody keeps is freed after the forward pass.
 */
export function recomputeFrugally(
  fn: (...inputs: tf.Tensor[]) => tf.Tensor[],
  inputs: tf.Tensor[],
  variables: tf.Variable[] = [],
  constants: tf.Tensor[] = [],
): tf.Tensor[] {
  const op = "recomputeFrugally";
  if (typeof fn !== "function") throw new Error(`${op}: fn must be a function returning tensors`);
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.some((t) => !(t instanceof tf.Tensor))) {
    throw new Error(`${op}: inputs must be a non-empty array of tensors`);
  }
  if (!Array.isArray(variables) || variables.some((v) => !(v instanceof tf.Variable))) {
    throw new Error(`${op}: variables must be an array of tf.Variable`);
  }
  if (!Array.isArray(constants) || constants.some((t) => !(t instanceof tf.Tensor))) {
    throw new Error(`${op}: constants must be an array of tensors`);
  }
  const trained = variables.filter((v) => v.trainable);
  const n = inputs.length;
  let shapes: number[][] = [];
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
      // tf.customGrad has one output: several are returned as one flat tensor, split outside.
      value: flatten(outputs),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        // The saved inputs as variables (sharing their data, no copy): frugalVariableGrads
        // differentiates variables. Made untracked by any tidy so that they are disposed here.
        const inputVars = saved.slice(0, n).map((s) => tf.variable(s, true));
        const savedConstants = saved.slice(n);
        const engine = tf.engine() as unknown as EngineTape;
        // The nested backward replaces the engine's tape and clears it; the outer backward
        // (tf.variableGrads) still reads its own tape afterwards to free what it saved.
        const outerTape = engine.state.activeTape;
        try {
          // ⟨output, dy⟩: its gradient is the vector-Jacobian product backward needs.
          const result = frugalVariableGrads(
            () => tf.sum(tf.mul(flatten(fn(...inputVars, ...savedConstants)), dy)) as tf.Scalar,
            [...inputVars, ...trained],
          );
          result.value.dispose();
          const wrt: tf.Variable[] = [...inputVars, ...trained];
          return wrt.map((v) => result.grads[v.name] ?? tf.zerosLike(v));
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
