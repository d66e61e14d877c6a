import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
await initBackend();
const med = (f: () => void, n = 15) => { f(); const t: number[] = []; for (let i = 0; i < n; i++) { const t0 = performance.now(); f(); t.push(performance.now() - t0); } t.sort((a, b) => a - b); return t[n >> 1]!; };
function run(name: string, as: number[], bs: number[], ta = false, tb = false) {
  const a = tf.randomNormal(as), b = tf.randomNormal(bs);
  const ms = med(() => { const o = tf.matMul(a, b, ta, tb); o.dispose(); });
  const o = tf.matMul(a, b, ta, tb); const m = o.shape[o.shape.length - 2]!, n = o.shape[o.shape.length - 1]!; const k = ta ? as[as.length - 2]! : as[as.length - 1]!;
  const items = o.size / (m * n); o.dispose();
  console.log(name, JSON.stringify(as), JSON.stringify(bs), ta, tb, ms.toFixed(2), "ms", ((2 * o.size * k) / ms / 1e6).toFixed(1), "GF/s", (ms * 1000 / items).toFixed(1), "us/item");
  tf.dispose([a, b]);
}
run("batched", [64, 256, 32], [64, 32, 128]);
run("batched-tb", [64, 256, 32], [64, 128, 32], false, true);
run("batched-PV", [64, 256, 128], [64, 128, 32]);
run("batched-ta", [64, 256, 128], [64, 256, 32], true, false);
run("one-item", [1, 256, 32], [1, 32, 128]);
run("flat", [16384, 32], [32, 128]);
run("tiny", [256, 8, 8], [256, 8, 8]);
run("wsum", [4, 1, 16], [4, 16, 8192]);
run("sgemm", [1024, 1024], [1024, 1024]);
