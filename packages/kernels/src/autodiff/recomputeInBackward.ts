import * as tf from "@tensorflow/tfjs";

interface EngineGradients {
  state: { activeTape: unknown };
  gradients(
    f: () => tf.Tensor,
    xs: tf.Tensor[],
    dy?: tf.Tensor,
    allowNoGradients?: boolean,
  ): { value: tf.Tensor; grads: (tf.Tensor | null)[] };
}

/**
 * Activation checkpointing for one piece of a network: `fn(...inputs)` runs without keeping its
 * intermediates for backward; only `inputs` are kept, and backward runs `fn` again on them under a
 * tape to get the gradients for the inputs and for `variables` (the trainable weights `fn` reads).
 * Memory: a piece's saved activations become its inputs; cost: one more forward of the piece.
 *
 * `fn` must compute the same values when run again — a dropout inside it needs a seed. Frozen
 * weights it reads need not be listed: they get no gradient. Works with tf.variableGrads and
 * frugalVariableGrads (backward runs outside their tapes, so the nested tape is allowed).
 */
export function recomputeInBackward(
  fn: (...inputs: tf.Tensor[]) => tf.Tensor[],
  inputs: tf.Tensor[],
  variables: tf.Variable[] = [],
): tf.Tensor[] {
  const trained = variables.filter((v) => v.trainable);
  const n = inputs.length;
  let shapes: number[][] = [];
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, n) as tf.Tensor[];
    // Inside a custom op nothing is taped: fn's intermediates are freed as soon as they are used.
    const outputs = fn(...xs);
    shapes = outputs.map((o) => o.shape);
    save(xs);
    return {
      // tf.customGrad has one output: several are returned as one flat tensor, split outside.
      value: outputs.length === 1 ? (outputs[0] as tf.Tensor) : tf.concat(outputs.map((o) => tf.reshape(o, [-1]))),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const wrt = [...saved, ...trained];
        const engine = tf.engine() as unknown as EngineGradients;
        // The nested gradients() replaces the engine's tape and clears it when done; the outer
        // backward (tf.variableGrads) still reads its own tape afterwards to free what it saved.
        const outerTape = engine.state.activeTape;
        let result: ReturnType<EngineGradients["gradients"]>;
        try {
          result = engine.gradients(
            () => {
              const again = fn(...saved);
              const flat =
                again.length === 1 ? (again[0] as tf.Tensor) : tf.concat(again.map((o) => tf.reshape(o, [-1])));
              // ⟨output, dy⟩: its gradient is the vector-Jacobian product backward needs.
              return tf.sum(tf.mul(flat, dy));
            },
            wrt,
            undefined,
            true,
          );
        } finally {
          engine.state.activeTape = outerTape;
        }
        const { value, grads } = result;
        value.dispose();
        return grads.map((g, i) => g ?? tf.zerosLike(wrt[i] as tf.Tensor));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const out = op(...inputs, ...trained);
  if (shapes.length === 1) return [out];
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  return tf.split(out, sizes).map((part, i) => tf.reshape(part, shapes[i] as number[]));
}
