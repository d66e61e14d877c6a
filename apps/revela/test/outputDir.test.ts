import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runRevela } from "./cliHarness.js";
import { sampleResult } from "./sampleResult.js";

/**
 * The output folder of `revela train`: a previous run is neither mixed with a new one (old results
 * beside new runs) nor deleted unless --overwrite asks; what crashed writes left is removed; an
 * unwritable --out fails before any work, naming the flag.
 */

const tmp = mkdtempSync(path.join(tmpdir(), "revela-out-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function tinyDataset(): string {
  const dir = path.join(tmp, "data");
  mkdirSync(path.join(dir, "qrels"), { recursive: true });
  const docs = ["cats purr", "dogs bark", "fish swim"].map((text, i) => ({ _id: `d${i}`, title: "", text }));
  writeFileSync(path.join(dir, "corpus.jsonl"), `${docs.map((d) => JSON.stringify(d)).join("\n")}\n`);
  writeFileSync(path.join(dir, "queries.jsonl"), `${JSON.stringify({ _id: "q1", text: "purr" })}\n`);
  writeFileSync(path.join(dir, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td0\t1\n");
  return dir;
}

/** An output folder holding a finished run's files and the leftovers of crashed writes. */
function previousRun(name: string): string {
  const out = path.join(tmp, name);
  mkdirSync(path.join(out, "runs", "revela", "checkpoints", "step-00000004"), { recursive: true });
  mkdirSync(path.join(out, "retriever"));
  writeFileSync(path.join(out, "results.json"), '{"old": true}\n');
  writeFileSync(path.join(out, "report.html"), "<p>old</p>\n");
  writeFileSync(path.join(out, "run-state.json"), "{}\n");
  writeFileSync(path.join(out, "notes.txt"), "the user's own file\n");
  // Leftovers: a report and a run state half written, an unfinished retriever copy, a metrics rewrite.
  writeFileSync(path.join(out, "results.json.tmp-4242"), "{");
  writeFileSync(path.join(out, "run-state.json.tmp-4242-0a1b2c3d"), "{");
  mkdirSync(path.join(out, ".partial-retriever-4242-0a1b2c3d"));
  writeFileSync(path.join(out, "runs", "revela", "metrics.jsonl.tmp-4242"), "");
  return out;
}

const LEFTOVERS = [
  "results.json.tmp-4242",
  "run-state.json.tmp-4242-0a1b2c3d",
  ".partial-retriever-4242-0a1b2c3d",
  path.join("runs", "revela", "metrics.jsonl.tmp-4242"),
];

describe("revela train and its --out folder", () => {
  it("refuses to start over a previous run, deleting none of it, and says how to continue or replace it", async () => {
    const out = previousRun("refused");
    const run = await runRevela(["train", "--data", tinyDataset(), "--out", out], { result: sampleResult() });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /revela: --out .*refused holds a previous run \(report\.html, results\.json, retriever, run-state\.json, runs\): continue it with --resume, replace it with --overwrite, or choose another --out/,
    );
    expect(run.calls).toHaveLength(0);
    expect(readFileSync(path.join(out, "results.json"), "utf8")).toContain("old");
    expect(existsSync(path.join(out, "runs", "revela", "checkpoints", "step-00000004"))).toBe(true);
    for (const leftover of LEFTOVERS) expect(existsSync(path.join(out, leftover)), leftover).toBe(false);
  });

  it("with --overwrite, removes the previous run and crash leftovers before the pipeline starts, keeping other files", async () => {
    const out = previousRun("overwritten");
    const run = await runRevela(["train", "--data", tinyDataset(), "--out", out, "--overwrite"], {
      pipeline: async () => {
        // Nothing of the old run may sit beside the new one while it trains.
        expect(readdirSync(out).sort()).toEqual(["notes.txt"]);
        return sampleResult();
      },
    });
    expect(run.stderr).not.toMatch(/revela: /);
    expect(run.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["notes.txt", "report.html", "results.json", "results.md"]);
  });

  it("--resume with nothing to resume, and with --overwrite, are errors", async () => {
    const empty = path.join(tmp, "nothing");
    const run = await runRevela(["train", "--out", empty, "--resume"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/run-state\.json: not found, so .*nothing holds no run to resume/);
    const both = await runRevela(["train", "--out", empty, "--resume", "--overwrite"]);
    expect(both.stderr).toMatch(/--resume continues the run in --out and --overwrite replaces it: give one/);
  });

  it("an unwritable --out fails before any work, naming --out", async () => {
    let readOnly = path.join(tmp, "read-only");
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    // root writes through permission bits; a sysfs folder refuses even root.
    if (process.getuid?.() === 0) readOnly = "/sys/kernel";
    const run = await runRevela(["train", "--out", readOnly, "--data", path.join(tmp, "no-such-data")], {
      result: sampleResult(),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^revela: --out .*: cannot write in the output directory: E(ACCES|PERM|ROFS)/);
    expect(run.calls).toHaveLength(0);
  });
});
