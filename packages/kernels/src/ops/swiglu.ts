import * as tf from "@tensorflow/tfjs";
import { requireRank, requireShape, requireTensor } from "./checkShapes.js";

/**
 * SwiGLU feed-forward of LLaMA: (silu(x·Wgate) ⊙ (x·Wup)) · Wdown, silu(z) = z·σ(z).
 * x: [..., d]; wGate, wUp: [d, f]; wDown: [f, d]. Weights are in `x · W` layout ([in, out]),
 * i.e. the transpose of a Hugging Face `nn.Linear.weight`.
 */
export function swigluMlp(x: tf.Tensor, wGate: tf.Tensor, wUp: tf.Tensor, wDown: tf.Tensor): tf.Tensor {
  const op = "swigluMlp";
  for (const [name, t] of Object.entries({ x, wGate, wUp, wDown })) requireTensor(op, name, t);
  if (x.rank < 1) throw new Error(`${op}: x must have at least one dimension, got a scalar`);
  requireRank(op, "wGate", wGate, 2, "[d, f]");
  const d = x.shape[x.rank - 1] as number;
  const f = wGate.shape[1] as number;
  const ctx = `(x is [${x.shape.join(", ")}], wGate [${wGate.shape.join(", ")}])`;
  requireShape(op, "wGate", wGate, [d, f], ctx);
  requireShape(op, "wUp", wUp, [d, f], ctx);
  requireShape(op, "wDown", wDown, [f, d], ctx);
  return tf.tidy(() => {
    const rows = tf.reshape(x, [-1, d]); // [T, d]: one 2-D product per weight
    const gate = tf.matMul(rows, wGate);
    const hidden = siluGate(gate, tf.matMul(rows, wUp));
    return tf.reshape(tf.matMul(hidden, wDown), x.shape);
  });
}

/**
 * silu(gate) ⊙ up, the gating inside SwiGLU, with its gradient written out so that backward keeps
 * only gate and up (autodiff would also keep σ(gate) and silu(gate)). gate, up: same shape.
 */
export function siluGate(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  const op = "siluGate";
  requireTensor(op, "gate", gate);
  requireTensor(op, "up", up);
  requireShape(op, "up", up, gate.shape, `(the shape of gate [${gate.shape.join(", ")}])`);
  const f = tf.customGrad(((g: tf.Tensor, u: tf.Tensor, save: tf.GradSaveFunc) => {
    save([g, u]);
    return {
      value: tf.mul(tf.mul(g, tf.sigmoid(g)), u),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [gs, us] = saved as [tf.Tensor, tf.Tensor];
        const sig = tf.sigmoid(gs);
        const silu = tf.mul(gs, sig);
        // d silu/dg = σ(g)·(1 + g·(1 − σ(g))) = σ(g) + silu(g)·(1 − σ(g))
        const dSilu = tf.add(sig, tf.mul(silu, tf.sub(1, sig)));
        return [tf.mul(tf.mul(dy, us), dSilu), tf.mul(dy, silu)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(gate, up);
}
