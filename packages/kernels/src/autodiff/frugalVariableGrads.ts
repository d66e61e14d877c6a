import * as tf from "@tensorflow/tfjs";

/*
 * Why this exists: tf.variableGrads keeps every tensor the forward pass saved for backward, and
 * every gradient it computes, until the whole backward pass is over. A training step's peak memory
 * is then (all saved activations) + (a gradient for nearly every one of them). PyTorch frees both as
 * backprop walks past them; this does the same on tfjs's own tape, so the peak becomes the saved
 * activations plus the gradients still waiting to be consumed.
 *
 * It reads the tape tfjs-core 4.x records (engine.state.activeTape: nodes with inputs, outputs,
 * saved tensors and a gradient closure). The tfjs version is pinned in package.json; the tests in
 * test/autodiff compare every gradient with tf.variableGrads so that a change there fails loudly.
 */

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T extends tf.TensorContainer>(fn: () => T): T;
  tidy<T extends tf.TensorContainer>(name: string, fn: () => T): T;
}

/** Nodes on a path from some x to y, with inputs that do not depend on any x removed (as tfjs does). */
function nodesFromXsToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodeFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i] as TapeNode;
    if (node.outputs.some((o) => toY.has(o.id))) {
      nodeToY.add(node.id);
      for (const t of Object.values(node.inputs)) toY.add(t.id);
    }
  }
  const path: TapeNode[] = [];
  for (const node of tape) {
    if (!nodeFromX.has(node.id) || !nodeToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    path.push({ ...node, inputs });
  }
  return path;
}

const disposeSaved = (node: TapeNode) => {
  for (const t of node.saved ?? []) t.dispose();
};

/**
 * Same contract as `tf.variableGrads(f, varList)` — the value of the scalar `f()` and its gradient
 * for each trainable variable that it depends on, keyed by variable name — with memory released as
 * backprop proceeds: a node's saved tensors are disposed once its gradient has run, and a tensor's
 * gradient once it has been passed on to the tensor's inputs. Not for use inside another gradient
 * computation (tf.grad / tf.variableGrads), whose tape it would consume.
 */
export function frugalVariableGrads(
  f: () => tf.Scalar,
  varList: tf.Variable[],
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const op = "frugalVariableGrads";
  if (typeof f !== "function") throw new Error(`${op}: f must be a function returning a scalar tensor`);
  if (!Array.isArray(varList) || varList.length === 0) {
    throw new Error(`${op}: varList must be a non-empty array of tf.Variable`);
  }
  varList.forEach((v, i) => {
    if (!(v instanceof tf.Variable)) throw new Error(`${op}: varList[${i}] is not a tf.Variable`);
    if (v.isDisposed) throw new Error(`${op}: varList[${i}] (${v.name}) has been disposed`);
  });
  const xs = varList.filter((v) => v.trainable);
  if (xs.length === 0) throw new Error(`${op}: none of the ${varList.length} variables is trainable`);
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.state.gradientDepth !== 0) {
    throw new Error(`${op}: cannot run inside another gradient computation (tf.grad, tf.variableGrads, …)`);
  }

  let y: tf.Tensor;
  try {
    y = engine.scopedRun(
      () => engine.startTape(),
      () => engine.endTape(),
      () => engine.tidy("forward", f),
    );
  } catch (error) {
    // A forward that fails (a full wasm heap, a bad shape) has already saved tensors for backward
    // on the tape; without this they would stay allocated for good.
    for (const node of engine.state.activeTape ?? []) disposeSaved(node);
    engine.state.activeTape = null;
    throw error;
  }
  const tape = engine.state.activeTape ?? [];
  engine.state.activeTape = null;
  try {
    if (!(y instanceof tf.Tensor) || y.rank !== 0) {
      throw new Error(
        `${op}: f() must return a scalar tensor, got ${y instanceof tf.Tensor ? `shape [${y.shape.join(", ")}]` : typeof y}`,
      );
    }
    const path = nodesFromXsToY(tape, xs, y);
    const onPath = new Set(path.map((n) => n.id));
    // Activations saved by nodes off the path (e.g. metrics computed inside f) are never needed.
    for (const node of tape) if (!onPath.has(node.id)) disposeSaved(node);
    if (path.length === 0) {
      throw new Error(
        `${op}: the result of f() does not depend on any of the ${xs.length} trainable variables; check that f uses them`,
      );
    }
    const grads = engine.tidy("backward", () => {
      const gradOf = new Map<number, tf.Tensor>([[y.id, tf.onesLike(y)]]);
      const isX = new Set(xs.map((x) => x.id));
      for (let i = path.length - 1; i >= 0; i--) {
        const node = path[i] as TapeNode;
        if (!node.gradient) throw new Error(`${op}: no gradient is registered for ${node.kernelName}`);
        const dys = node.outputs.map((o) => gradOf.get(o.id) ?? null);
        const gradient = node.gradient;
        // One tidy per node: custom gradients (tf.customGrad) compute eagerly inside
        // node.gradient, and their intermediates would otherwise live until the end of backward.
        // A clone shares the data but not the handle: a gradient may be dy itself, disposed below.
        const dxs = engine.tidy(() => {
          const thunks = gradient(dys);
          const out: Record<string, tf.Tensor> = {};
          for (const name of Object.keys(node.inputs)) {
            const thunk = thunks[name];
            if (!thunk) throw new Error(`${op}: the gradient of ${node.kernelName} gives nothing for input '${name}'`);
            out[name] = tf.clone(thunk());
          }
          return out;
        });
        for (const [name, x] of Object.entries(node.inputs)) {
          const dx = dxs[name] as tf.Tensor;
          if (dx.dtype !== "float32" || !tf.util.arraysEqual(dx.shape, x.shape)) {
            throw new Error(
              `${op}: the gradient of ${node.kernelName} for '${name}' is ${dx.dtype} [${dx.shape.join(", ")}], expected float32 [${x.shape.join(", ")}]`,
            );
          }
          const sum = gradOf.get(x.id);
          if (sum === undefined) gradOf.set(x.id, dx);
          else {
            gradOf.set(x.id, tf.add(sum, dx));
            tf.dispose([sum, dx]);
          }
        }
        // Every consumer of this node's outputs comes later on the tape, so their gradients are
        // complete and now passed on.
        for (const o of node.outputs) {
          const g = gradOf.get(o.id);
          if (g !== undefined && !isX.has(o.id)) {
            g.dispose();
            gradOf.delete(o.id);
          }
        }
        disposeSaved(node);
      }
      const named: tf.NamedTensorMap = {};
      for (const x of xs) {
        const g = gradOf.get(x.id);
        if (g !== undefined) named[x.name] = g;
      }
      return named;
    });
    return { value: y as tf.Scalar, grads };
  } catch (error) {
    for (const node of tape) disposeSaved(node);
    if (y instanceof tf.Tensor) y.dispose();
    throw error;
  }
}
