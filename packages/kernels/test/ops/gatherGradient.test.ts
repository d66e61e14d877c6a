import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { describeEachBackend } from "../support/backends.js";
import { finiteDifferenceVjp, maxAbs, scaledMaxError, tfVjp } from "../support/finiteDifferences.js";
import { float64Gather, float64UnsortedSegmentSum } from "../support/float64Ops.js";
import { maxAbsDiff, seededValues, size } from "../support/reference.js";

/**
 * The gradient of an embedding lookup (tf.gather) is UnsortedSegmentSum over the ids: every
 * occurrence of an id adds its output gradient to that id's row. tfjs-backend-wasm 4.22 has no
 * such kernel; src/wasm/unsortedSegmentSum.ts provides it. These specs run on every backend.
 */

const V = 7;
const D = 3;
// Repeated ids (1 and 3 three times each, 6 twice), and ids 4 and 5 never used.
const IDS = [
  [1, 3, 1, 6, 0],
  [3, 3, 2, 1, 6],
];
const IDS_FLAT = IDS.flat();

describeEachBackend("gather gradient (UnsortedSegmentSum)", (backend) => {
  it("has an UnsortedSegmentSum kernel registered", () => {
    expect(tf.getKernel("UnsortedSegmentSum", backend === "tensorflow-gpu" ? "tensorflow" : backend)).toBeDefined();
  });

  it("embedding lookup [V, d] by ids [B, L] matches float64", () => {
    const table = seededValues([V, D], 1);
    const out = tf.tidy(() => tf.gather(tf.tensor(table, [V, D]), tf.tensor(IDS, [2, 5], "int32")));
    expect(out.shape).toEqual([2, 5, D]);
    expect(maxAbsDiff(out.dataSync(), float64Gather(table, D, IDS_FLAT))).toBe(0);
    out.dispose();
  });

  it("gradient of the table sums the output gradients of repeated ids and is zero for unused ids", () => {
    const table = seededValues([V, D], 2);
    const dy = seededValues([2, 5, D], 3);
    const ids = tf.tensor(IDS, [2, 5], "int32");
    const [grad] = tfVjp((t) => tf.gather(t, ids), [{ values: table, shape: [V, D] }], {
      values: dy,
      shape: [2, 5, D],
    });
    ids.dispose();
    const expected = float64UnsortedSegmentSum(dy, D, IDS_FLAT, V);
    expect(maxAbsDiff(grad!, expected)).toBeLessThan(1e-6);
    // Row 3 collects its three occurrences (flat positions 1, 5 and 6), by hand.
    for (let c = 0; c < D; c++) {
      const byHand = dy[1 * D + c]! + dy[5 * D + c]! + dy[6 * D + c]!;
      expect(Math.abs(grad![3 * D + c]! - byHand)).toBeLessThan(1e-6);
    }
    expect(maxAbs(grad!.subarray(4 * D, 6 * D))).toBe(0);
    // And the same through finite differences of the float64 lookup.
    const [numeric] = finiteDifferenceVjp(([t]) => float64Gather(t!, D, IDS_FLAT), [table], dy);
    expect(scaledMaxError(grad!, numeric!)).toBeLessThan(1e-3);
  });

  it("trains an embedding variable: tf.variableGrads gives the segment sum", () => {
    const table = seededValues([V, D], 4);
    const n = IDS_FLAT.length;
    const dy = seededValues([n, D], 5);
    const initial = tf.tensor(table, [V, D]);
    const variable = tf.variable(initial, true, `embed-${Math.random()}`);
    initial.dispose();
    const { value, grads } = tf.variableGrads(
      () =>
        tf.tidy(() =>
          tf.sum(tf.mul(tf.gather(variable, tf.tensor(IDS_FLAT, [n], "int32")), tf.tensor(dy, [n, D]))),
        ) as tf.Scalar,
      [variable],
    );
    const grad = grads[variable.name]!;
    expect(grad.shape).toEqual([V, D]);
    expect(maxAbsDiff(grad.dataSync(), float64UnsortedSegmentSum(dy, D, IDS_FLAT, V))).toBeLessThan(1e-6);
    tf.dispose([value, grad, variable]);
  });

  it("gather along axis 1 of a rank-3 tensor: gradient matches finite differences", () => {
    const shape = [3, 6, 2];
    const ids = [5, 0, 5, 2, 5];
    const params = seededValues(shape, 6);
    const outShape = [3, ids.length, 2];
    const dy = seededValues(outShape, 7);
    const idTensor = tf.tensor(ids, [ids.length], "int32");
    const [grad] = tfVjp((p) => tf.gather(p, idTensor, 1), [{ values: params, shape }], {
      values: dy,
      shape: outShape,
    });
    idTensor.dispose();
    const gather64 = (p: ArrayLike<number>) => {
      const out = new Float64Array(size(outShape));
      for (let a = 0; a < 3; a++)
        for (let i = 0; i < ids.length; i++)
          for (let c = 0; c < 2; c++) out[(a * ids.length + i) * 2 + c] = p[(a * 6 + ids[i]!) * 2 + c]!;
      return out;
    };
    const [numeric] = finiteDifferenceVjp(([p]) => gather64(p!), [params], dy);
    expect(maxAbs(numeric!)).toBeGreaterThan(1e-2);
    expect(scaledMaxError(grad!, numeric!)).toBeLessThan(1e-3);
  });

  it("tf.unsortedSegmentSum on [N, 2, 3] sums rows by id and drops ids outside [0, numSegments)", () => {
    const ids = [2, 0, 2, -1, 4, 1, 2, 5, 0];
    const numSegments = 4;
    const x = seededValues([ids.length, 2, 3], 8);
    const out = tf.tidy(() =>
      tf.unsortedSegmentSum(tf.tensor(x, [ids.length, 2, 3]), tf.tensor(ids, [ids.length], "int32"), numSegments),
    );
    expect(out.shape).toEqual([numSegments, 2, 3]);
    const expected = float64UnsortedSegmentSum(x, 6, ids, numSegments);
    expect(maxAbsDiff(out.dataSync(), expected)).toBeLessThan(1e-6);
    // Segment 3 has no ids at all.
    expect(maxAbs(out.dataSync().subarray(18, 24))).toBe(0);
    out.dispose();
  });

  it("accumulates many repeats of a few ids accurately (2000 ids into 5 rows of 16)", () => {
    const n = 2000;
    const ids = Array.from({ length: n }, (_, i) => (i * 7 + (i >> 3)) % 5);
    const dy = seededValues([n, 16], 9);
    const idTensor = tf.tensor(ids, [n], "int32");
    const [grad] = tfVjp((t) => tf.gather(t, idTensor), [{ values: seededValues([5, 16], 10), shape: [5, 16] }], {
      values: dy,
      shape: [n, 16],
    });
    idTensor.dispose();
    const expected = float64UnsortedSegmentSum(dy, 16, ids, 5);
    expect(maxAbs(expected)).toBeGreaterThan(1);
    expect(maxAbsDiff(grad!, expected)).toBeLessThan(1e-3);
  });

  it("a lookup of no ids gives a zero table gradient", () => {
    const ids = tf.tensor([], [0], "int32");
    const [grad] = tfVjp((t) => tf.gather(t, ids), [{ values: seededValues([V, D], 11), shape: [V, D] }], {
      values: [],
      shape: [0, D],
    });
    ids.dispose();
    expect(grad).toHaveLength(V * D);
    expect(maxAbs(grad!)).toBe(0);
  });
});
