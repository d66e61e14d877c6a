import { initBackend } from "@revela/kernels";
import { ExactIndex, loadRetriever } from "@revela/retriever";

await initBackend();
// A retriever directory, or a base model + PEFT adapter such as the published Revela checkpoints:
const retriever = await loadRetriever({ model: "./Llama-3.2-1B", adapter: "./Revela-1b" });
const docs = ["Paris is the capital of France.", "Dense retrievers learn from language modeling."];
const index = new ExactIndex(retriever.dimensions);
index.add(["d1", "d2"], await retriever.encodePassages(docs, { batchSize: 16 }));
const hits = await index.search(await retriever.encodeQueries(["What is the capital of France?"]), 1);
console.log(hits.ids[0], hits.scores[0]); // [ 'd1' ] Float32Array [ 0.8… ]
