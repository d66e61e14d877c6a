import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { describeEachBackend } from "./support/backends.js";
import { seededValues, size } from "./support/reference.js";

// Gather, slice and sum are replaced on wasm by block-copy kernels (src/wasm/fast*.ts); each case is
// checked against a plain index-by-index float64 reference on every backend.

/** Row-major strides of `shape`. */
const stridesOf = (shape: number[]) => shape.map((_, a) => size(shape.slice(a + 1)));

/** Every multi-index of `shape`, in row-major order. */
function* indicesOf(shape: number[]): Generator<number[]> {
  const n = size(shape);
  const strides = stridesOf(shape);
  for (let flat = 0; flat < n; flat++) yield shape.map((s, a) => Math.floor(flat / strides[a]!) % s);
}

const flatIndex = (index: number[], shape: number[]) => index.reduce((f, i, a) => f + i * stridesOf(shape)[a]!, 0);

function referenceGather(x: ArrayLike<number>, shape: number[], ids: number[], idShape: number[], axis: number) {
  const outShape = [...shape.slice(0, axis), ...idShape, ...shape.slice(axis + 1)];
  const out: number[] = [];
  for (const o of indicesOf(outShape)) {
    const id = ids[flatIndex(o.slice(axis, axis + idShape.length), idShape)]!;
    out.push(x[flatIndex([...o.slice(0, axis), id, ...o.slice(axis + idShape.length)], shape)]!);
  }
  return { values: out, shape: outShape };
}

function referenceSlice(x: ArrayLike<number>, shape: number[], begin: number[], sizes: number[]) {
  const out: number[] = [];
  for (const o of indicesOf(sizes))
    out.push(
      x[
        flatIndex(
          o.map((i, a) => i + begin[a]!),
          shape,
        )
      ]!,
    );
  return out;
}

function referenceSum(x: ArrayLike<number>, shape: number[], axes: number[], keepDims: boolean) {
  const outShape = shape.map((s, a) => (axes.includes(a) ? 1 : s));
  const out = new Float64Array(size(outShape));
  for (const i of indicesOf(shape)) {
    out[
      flatIndex(
        i.map((v, a) => (axes.includes(a) ? 0 : v)),
        outShape,
      )
    ]! += x[flatIndex(i, shape)]!;
  }
  return { values: out, shape: keepDims ? outShape : shape.filter((_, a) => !axes.includes(a)) };
}

const close = (got: ArrayLike<number>, want: ArrayLike<number>, tolerance: number) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(tolerance);
};

describeEachBackend("gather, slice and sum", () => {
  const gathers = [
    { name: "embedding rows", shape: [11, 6], ids: [3, 0, 10, 3], idShape: [4], axis: 0 },
    { name: "chunks of a rank-4 tensor", shape: [5, 3, 4, 2], ids: [4, 1], idShape: [2], axis: 0 },
    { name: "an inner axis, 2-D indices", shape: [2, 7, 3], ids: [6, 0, 2, 2, 5, 1], idShape: [2, 3], axis: 1 },
    { name: "the last axis, negative", shape: [3, 5], ids: [4, 4, 0], idShape: [3], axis: -1 },
    { name: "no indices", shape: [4, 3], ids: [], idShape: [0], axis: 0 },
  ];
  for (const c of gathers) {
    it(`gather: ${c.name} matches an index-by-index reference`, () => {
      const x = seededValues(c.shape, 21);
      const axis = c.axis < 0 ? c.axis + c.shape.length : c.axis;
      const want = referenceGather(x, c.shape, c.ids, c.idShape, axis);
      const out = tf.tidy(() => tf.gather(tf.tensor(x, c.shape), tf.tensor(c.ids, c.idShape, "int32"), c.axis));
      expect(out.shape).toEqual(want.shape);
      close(out.dataSync(), want.values, 1e-6);
      out.dispose();
    });
  }

  it("gather of int32 values copies them exactly", () => {
    const out = tf.tidy(() => tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], "int32"), [2, 0], 0));
    expect(out.dtype).toBe("int32");
    expect(Array.from(out.dataSync())).toEqual([5, 6, 1, 2]);
    out.dispose();
  });

  it("gather names an index outside the axis (on wasm, from this package's kernel)", () => {
    const x = tf.zeros([4, 2]);
    const ids = tf.tensor1d([1, 4], "int32");
    expect(() => tf.gather(x, ids, 0)).toThrow(
      tf.getBackend() === "wasm" ? /gather \(wasm\): indices\[1\] = 4 is outside \[0, 3\]/ : /4/,
    );
    tf.dispose([x, ids]);
  });

  it("gather's gradient sums the rows a repeated index took", () => {
    const x = tf.tensor2d(seededValues([4, 3], 5), [4, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, [1, 3, 1], 0)))(x);
    expect(Array.from(g.dataSync())).toEqual([0, 0, 0, 2, 2, 2, 0, 0, 0, 1, 1, 1]);
    tf.dispose([x, g]);
  });

  const slices = [
    { name: "leading rows (a contiguous block)", shape: [8, 5], begin: [2, 0], sizes: [4, 5] },
    { name: "a window in every axis", shape: [4, 5, 6], begin: [1, 2, 3], sizes: [2, 3, 2] },
    { name: "inner axes whole, outer cut", shape: [3, 4, 2, 3], begin: [1, 1, 0, 0], sizes: [2, 2, 2, 3] },
    { name: "the last element", shape: [7], begin: [6], sizes: [1] },
    { name: "empty", shape: [3, 4], begin: [1, 2], sizes: [2, 0] },
  ];
  for (const c of slices) {
    it(`slice: ${c.name} matches an index-by-index reference`, () => {
      const x = seededValues(c.shape, 22);
      const out = tf.tidy(() => tf.slice(tf.tensor(x, c.shape), c.begin, c.sizes));
      expect(out.shape).toEqual(c.sizes);
      close(out.dataSync(), referenceSlice(x, c.shape, c.begin, c.sizes), 0);
      out.dispose();
    });
  }

  it("slice with size -1 takes the rest of the axis", () => {
    const out = tf.tidy(() => tf.slice(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]), [0, 1], [-1, -1]));
    expect(out.shape).toEqual([2, 2]);
    expect(Array.from(out.dataSync())).toEqual([2, 3, 5, 6]);
    out.dispose();
  });

  it("slice names the shape when the window leaves the tensor", () => {
    expect(() => tf.slice(tf.zeros([3, 4]), [2, 0], [2, 4])).toThrow(/overflow input.shape\[0\] \(3\)/);
  });

  const sums = [
    { name: "over rows (a weight's gradient)", shape: [37, 5], axes: [0], keepDims: false },
    { name: "over the last axis", shape: [4, 3, 9], axes: [2], keepDims: true },
    { name: "over middle axes", shape: [2, 3, 4, 5], axes: [1, 2], keepDims: false },
    { name: "over all axes", shape: [3, 7], axes: [0, 1], keepDims: false },
    { name: "over axes that are not adjacent", shape: [3, 4, 5], axes: [0, 2], keepDims: true },
  ];
  for (const c of sums) {
    it(`sum: ${c.name} matches a float64 reference`, () => {
      const x = seededValues(c.shape, 23);
      const want = referenceSum(x, c.shape, c.axes, c.keepDims);
      const out = tf.tidy(() => tf.sum(tf.tensor(x, c.shape), c.axes, c.keepDims));
      expect(out.shape).toEqual(want.shape);
      close(out.dataSync(), want.values, 1e-4);
      out.dispose();
    });
  }

  it("sum of int32 values stays exact", () => {
    const out = tf.tidy(() => tf.sum(tf.tensor2d([1, 2, 3, 4], [2, 2], "int32"), 0));
    expect(out.dtype).toBe("int32");
    expect(Array.from(out.dataSync())).toEqual([4, 6]);
    out.dispose();
  });
});
