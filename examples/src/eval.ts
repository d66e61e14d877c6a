import { Bm25Index, denseRetrieve, evaluateRun, loadBeirDataset, reciprocalRankFusion } from "@revela/eval";

const { corpus, queries, qrels } = await loadBeirDataset("data/scifact", { split: "test" });
const bm25 = Bm25Index.build(corpus).retrieve(queries, { k: 1000 });
console.log(evaluateRun(bm25, qrels, { k: [10] }).mean); // NDCG@10 0.6791 on SciFact

// Any model with these two methods can be evaluated; this toy one counts letters (fusing it hurts).
const embed = (s: string) => Float32Array.from({ length: 26 }, (_, i) => s.split(String.fromCharCode(97 + i)).length);
const encodeQueries = (texts: readonly string[]) => texts.map(embed);
const dense = await denseRetrieve(
  { encodeQueries, encodeDocuments: (d) => d.map((x) => embed(x.text)) },
  corpus,
  queries,
);
console.log(evaluateRun(reciprocalRankFusion([bm25, dense]), qrels, { k: [10] }).mean);
