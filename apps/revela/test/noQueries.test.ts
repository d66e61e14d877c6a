import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runPipeline } from "../src/pipeline/runPipeline.js";
import { runRevela } from "./cliHarness.js";

/**
 * A split with no judged query, or a corpus whose texts are all empty, used to train for the whole
 * budget and then report an all-zero table marked best (exit 0). `train` must refuse before it
 * trains, and `eval` too.
 */

const tmp = mkdtempSync(path.join(tmpdir(), "revela-no-queries-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ANIMALS = ["cats", "dogs", "fish", "birds", "horses", "cows", "goats", "sheep", "bees", "ants"];

function dataset(name: string, queries: string, qrels: string, emptyTexts = false): string {
  const dir = path.join(tmp, name);
  mkdirSync(path.join(dir, "qrels"), { recursive: true });
  const docs = ANIMALS.flatMap((a, i) => [
    { _id: `d${2 * i}`, title: a, text: `${a} live on the farm and eat grass in the morning` },
    { _id: `d${2 * i + 1}`, title: a, text: `some say ${a} are clever, others that they sleep all day` },
  ]).map((d) => (emptyTexts ? { ...d, title: "", text: " " } : d));
  writeFileSync(path.join(dir, "corpus.jsonl"), `${docs.map((d) => JSON.stringify(d)).join("\n")}\n`);
  writeFileSync(path.join(dir, "queries.jsonl"), queries);
  writeFileSync(path.join(dir, "qrels", "test.tsv"), qrels);
  return dir;
}

const QUERIES = `${JSON.stringify({ _id: "q1", text: "which animals eat grass" })}\n`;
const HEADER = "query-id\tcorpus-id\tscore\n";

describe("nothing to evaluate: no judged query, or no text", () => {
  const cases = [
    { name: "header-only qrels", queries: QUERIES, qrels: HEADER, message: /qrels\/test\.tsv: no judgements/ },
    {
      name: "a corpus whose texts are all empty",
      queries: QUERIES,
      qrels: `${HEADER}q1\td0\t1\n`,
      emptyTexts: true,
      message: /corpus\.jsonl: all 20 documents have an empty title and text: there is nothing to retrieve/,
    },
    {
      name: "empty queries.jsonl",
      queries: "",
      qrels: `${HEADER}q1\td0\t1\n`,
      message: /queries\.jsonl: none of the 1 query ids judged in .*test\.tsv is in it/,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: train refuses before training, eval refuses too`, async () => {
      const data = dataset(c.name.replace(/\W+/g, "-"), c.queries, c.qrels, c.emptyTexts ?? false);
      const out = path.join(tmp, `out-${c.name.replace(/\W+/g, "-")}`);
      const train = await runRevela(["train", "--data", data, "--steps", "1", "--minutes", "1", "--out", out], {
        pipeline: (config, io) => runPipeline(config, io),
      });
      expect(train.code).toBe(1);
      expect(train.stderr).toMatch(new RegExp(`revela: .*${c.message.source}`));
      expect(train.stderr).not.toContain("train Revela");
      expect(existsSync(path.join(out, "runs"))).toBe(false);
      expect(existsSync(path.join(out, "run-state.json"))).toBe(false);
      expect(existsSync(path.join(out, "results.json"))).toBe(false);

      const evaluation = await runRevela(["eval", "--bm25", "--data", data]);
      expect(evaluation.code).toBe(1);
      expect(evaluation.stderr).toMatch(new RegExp(`revela: .*${c.message.source}`));
    });
  }
});
