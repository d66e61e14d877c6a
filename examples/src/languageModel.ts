import { initBackend } from "@revela/kernels";
import { greedyGenerate, loadPretrained, Tokenizer } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";

await initBackend();
const model = await loadPretrained("./SmolLM2-135M", { adapter: "./my-lora" }); // adapter optional
const tokenizer = await Tokenizer.fromDir("./SmolLM2-135M");
const batch = tokenizer.encodeBatch(["The capital of France is"], { maxLength: 32, appendEos: false });
const ids = tf.tensor2d(batch.inputIds, [batch.batch, batch.seqLen], "int32");
const { logits, loss } = model.forward(ids, tf.tensor2d(batch.attentionMask, [batch.batch, batch.seqLen], "int32"), {
  computeLoss: true,
});
console.log(
  logits!.shape,
  loss!.dataSync()[0],
  tokenizer.decode(greedyGenerate(model, tokenizer.encode("Paris is"), { maxNewTokens: 8 })),
);
