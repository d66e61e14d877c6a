import { emit, timeMedian } from "@revela/bench";
import * as tf from "@tensorflow/tfjs";
import { parseImpl, startImpl } from "./backendForImpl.js";

/** GFLOP/s of every matmul form at 1024² (and an attention-shaped batch) on one implementation. */
const N = 1024;
const CASES = [
  { case: "plain-1024", a: [N, N], b: [N, N], transposeA: false, transposeB: false },
  { case: "transposeA-1024", a: [N, N], b: [N, N], transposeA: true, transposeB: false },
  { case: "transposeB-1024", a: [N, N], b: [N, N], transposeA: false, transposeB: true },
  { case: "batched-4x1024", a: [4, N, N], b: [4, N, N], transposeA: false, transposeB: false },
  // Q·Kᵀ of the reference attention: 16 batch × 4 kv heads, 2 query heads stacked per kv head.
  { case: "attention-QKt-64x256x32x128", a: [64, 256, 32], b: [64, 128, 32], transposeA: false, transposeB: true },
];

const impl = parseImpl(process.argv.slice(2));
const { threads } = await startImpl(impl);
const slow = impl !== "revela";
for (const c of CASES) {
  const a = tf.randomNormal(c.a, 0, 1, "float32", 1);
  const b = tf.randomNormal(c.b, 0, 1, "float32", 2);
  const ra = c.a.length;
  const m = (c.transposeA ? c.a[ra - 1] : c.a[ra - 2]) as number;
  const k = (c.transposeA ? c.a[ra - 2] : c.a[ra - 1]) as number;
  const rb = c.b.length;
  const n = (c.transposeB ? c.b[rb - 2] : c.b[rb - 1]) as number;
  const batch = ra === 3 ? (c.a[0] as number) : 1;
  const flops = 2 * batch * m * k * n;
  const ms = await timeMedian(
    () => {
      const out = tf.matMul(a, b, c.transposeA, c.transposeB);
      out.dataSync();
      out.dispose();
    },
    1,
    impl === "tfjs-cpu" ? 3 : slow ? 3 : 7,
  );
  emit({
    bench: "kernels/matmul",
    case: c.case,
    impl,
    metric: "gflops",
    value: Number((flops / ms / 1e6).toFixed(2)),
    unit: "GFLOP/s",
    params: {
      a: c.a,
      b: c.b,
      transposeA: c.transposeA,
      transposeB: c.transposeB,
      threads,
      medianMs: Number(ms.toFixed(2)),
    },
  });
  a.dispose();
  b.dispose();
}
