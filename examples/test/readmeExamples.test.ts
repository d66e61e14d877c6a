import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { saveRetriever } from "@revela/retriever";
import { tinyRetriever } from "@revela/test-fixtures";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
/** Each example file and the README whose `## Example` block it must equal. */
const EXAMPLES = [
  { file: "src/eval.ts", readme: "packages/eval/README.md" },
  { file: "src/textData.ts", readme: "packages/text-data/README.md" },
  { file: "src/kernels.ts", readme: "packages/kernels/README.md" },
  { file: "src/inbatchAttention.ts", readme: "packages/inbatch-attention/README.md" },
  { file: "src/vectorStore.ts", readme: "packages/vector-store/README.md" },
];

const scratch = mkdtempSync(path.join(tmpdir(), "revela-examples-"));
const cwd = process.cwd();
afterEach(() => {
  process.chdir(cwd);
  vi.restoreAllMocks();
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs an example module in `dir` (its paths are relative) and returns what it printed. */
async function runExample(file: string, dir: string): Promise<unknown[][]> {
  const printed: unknown[][] = [];
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    printed.push(args);
  });
  process.chdir(dir);
  await import(path.join(here, "..", file));
  return printed;
}

describe("README examples", () => {
  it.each(EXAMPLES)("$file is the ts block under '## Example' in $readme, to the character", ({ file, readme }) => {
    const text = readFileSync(path.join(repo, readme), "utf8");
    const block = /## Example[\s\S]*?```ts\n([\s\S]*?)```/.exec(text)?.[1];
    expect(block).toBeDefined();
    expect(readFileSync(path.join(here, "..", file), "utf8")).toBe(block);
  });

  it("text-data: reports the line with invalid UTF-8 and refuses none of the valid JSON", async () => {
    const dir = path.join(scratch, "text-data");
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, "corpus.jsonl"),
      Buffer.concat([Buffer.from('{"_id": "a"}\n{"_id": "caf'), Buffer.from([0xe9]), Buffer.from('"}\n\n')]),
    );
    const printed = await runExample("src/textData.ts", dir);
    expect(printed).toEqual([["corpus.jsonl:2: invalid UTF-8 on 1 line(s) (2); the bad bytes were read as U+FFFD"]]);
  });

  it("eval: BM25 finds each query's document on a small BEIR folder; the fused run is evaluated too", async () => {
    const dir = path.join(scratch, "eval");
    const data = path.join(dir, "data", "scifact");
    mkdirSync(path.join(data, "qrels"), { recursive: true });
    const docs = [
      ["d1", "Aspirin", "aspirin thins the blood and lowers the risk of stroke"],
      ["d2", "Vitamin D", "vitamin d deficiency is common in northern winters"],
      ["d3", "Sleep", "sleep loss impairs memory consolidation in adults"],
      ["d4", "Coffee", "caffeine raises alertness but may disturb sleep"],
      ["d5", "Exercise", "aerobic exercise improves cardiovascular fitness"],
    ];
    writeFileSync(
      path.join(data, "corpus.jsonl"),
      docs.map(([id, title, text]) => JSON.stringify({ _id: id, title, text })).join("\n"),
    );
    writeFileSync(
      path.join(data, "queries.jsonl"),
      [
        { _id: "q1", text: "does aspirin lower stroke risk" },
        { _id: "q2", text: "vitamin d deficiency in winter" },
      ]
        .map((q) => JSON.stringify(q))
        .join("\n"),
    );
    writeFileSync(path.join(data, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n");
    const printed = await runExample("src/eval.ts", dir);
    expect(printed).toHaveLength(2);
    const [bm25, fused] = printed.map((args) => args[0] as Record<string, number>);
    expect(bm25?.["NDCG@10"]).toBe(1);
    expect(fused?.["NDCG@10"]).toBeGreaterThan(0);
    expect(fused?.["NDCG@10"]).toBeLessThanOrEqual(1);
  });

  it("kernels: starts a backend, reports it, and runs attention with RoPE and the cross-entropy", async () => {
    const printed = await runExample("src/kernels.ts", scratch);
    expect(printed).toHaveLength(2);
    expect(String(printed[0]?.[0])).toMatch(/wasm|cpu|tensorflow/);
    expect(printed[1]?.[0]).toEqual([2, 8, 16, 32]);
    // Random logits over 100 classes: a cross-entropy near ln 100 plus the spread of the logits.
    const loss = printed[1]?.[1] as number;
    expect(Number.isFinite(loss) && loss > 0).toBe(true);
  });

  it("inbatch-attention: W has a zero diagonal and rows that sum to 1; the term has q's shape", async () => {
    const printed = await runExample("src/inbatchAttention.ts", scratch);
    expect(printed).toHaveLength(1);
    const [shape, row] = printed[0] as [number[], string[]];
    expect(shape).toEqual([4, 8, 16, 32]);
    expect(row).toHaveLength(4);
    expect(row[0]).toBe("0.000");
    expect(row.reduce((s, x) => s + Number(x), 0)).toBeCloseTo(1, 2);
  });

  it("vector-store: upserts two passages into an embedded database and finds one for the query", async () => {
    const dir = path.join(scratch, "vector-store");
    const texts = ["Paris is the capital of France.", "Dense retrievers learn from language modeling."];
    const retriever = await tinyRetriever([...texts, "What is the capital of France?"], { seed: 1 });
    await saveRetriever(retriever, path.join(dir, "revela-output", "retriever"));
    retriever.dispose();
    const printed = await runExample("src/vectorStore.ts", dir);
    expect(printed).toHaveLength(1);
    // A random retriever: either passage may rank first, with its text.
    const [hit, ...rest] = printed[0]?.[0] as { id: string; score: number; text: string }[];
    expect(rest).toEqual([]);
    expect(texts[Number(hit?.id.slice(1))]).toBe(hit?.text);
    expect(Number.isFinite(hit?.score)).toBe(true);
  });
});
