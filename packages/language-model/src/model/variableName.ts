import * as tf from "@tensorflow/tfjs";

/**
 * tfjs keeps one registry of variable names per process: two models (or two LoRA adapters) must
 * never reuse a name, or the second fails with "Variable … already registered".
 */
let counter = 0;

export function uniqueVariableName(name: string): string {
  return `${name}#${counter++}`;
}

/**
 * A trainable variable holding `build()`'s value under a unique name. `tf.variable` takes a new
 * reference to its initial value rather than adopting it, so the value is built inside a tidy:
 * otherwise the source tensor outlives the variable and `dispose()` frees only half of each weight.
 */
export function namedVariable(build: () => tf.Tensor, name: string, trainable = true): tf.Variable {
  return tf.tidy(() => tf.variable(build(), trainable, uniqueVariableName(name)));
}
