import { initBackend } from "@revela/kernels";
import { loadRetriever } from "@revela/retriever";
import { retrieverIdentity, VectorStore } from "@revela/vector-store";

await initBackend();
const retriever = await loadRetriever("./revela-output/retriever");
const texts = ["Paris is the capital of France.", "Dense retrievers learn from language modeling."];
const passages = await retriever.encodePassages(texts);
const d = passages.shape[1];
// A folder (embedded PGlite, created if missing) or "postgres://user:password@host:5432/db":
const store = await VectorStore.open("./revela-db");
const docs = await store.collection("docs", { retriever: retrieverIdentity(retriever) });
await docs.upsert(texts.map((text, i) => ({ id: `d${i}`, text, vector: passages.data.subarray(i * d, (i + 1) * d) })));
const query = await retriever.encodeQueries(["What is the capital of France?"]);
console.log(await docs.search(query.data, { k: 1, withText: true })); // [ { id: 'd0', score: 0.98…, text: 'Paris…' } ]
await store.close();
