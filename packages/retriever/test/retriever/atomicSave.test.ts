import { createHash } from "node:crypto";
import fs from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadRetriever, Retriever, saveRetriever } from "../../src/index.js";
import { CORPUS, compactLlama3, tinyConfig, tinyRetriever } from "../support/tinyRetriever.js";

/**
 * Saving over an existing retriever must be atomic: a crash at any moment leaves a directory that
 * loads as the old retriever or as the new one. Before, config.json and the weights were written
 * in place beside the old retriever.json, so a kill during "save retriever" left a folder that
 * claimed to be complete and failed to load ("tensor model.embed_tokens.weight has shape …").
 *
 * A crash is simulated at every file-system write in turn: from the n-th write on, every write,
 * rename and delete fails, as if the process had died there (nothing after it runs, cleanup included).
 */

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "revela-atomic-save-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

const MUTATING_ASYNC = ["writeFile", "appendFile", "rename", "copyFile", "mkdir", "open", "rm", "unlink", "rmdir"];
const MUTATING_SYNC = ["writeFileSync", "appendFileSync", "renameSync", "copyFileSync", "mkdirSync", "openSync"];
const MUTATING_SYNC_MORE = ["writeSync", "rmSync", "unlinkSync", "rmdirSync"];

/** Makes the `n`-th mutating fs call and every later one throw; returns a function that undoes it. */
function crashAtWrite(n: number): () => void {
  const promises = fs.promises as unknown as Record<string, (...args: unknown[]) => unknown>;
  const sync = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
  const saved: [Record<string, (...args: unknown[]) => unknown>, string, (...args: unknown[]) => unknown][] = [];
  let calls = 0;
  const crashed = (name: string) => {
    calls++;
    return calls >= n ? new Error(`simulated crash at write ${n} (${name})`) : null;
  };
  for (const name of MUTATING_ASYNC) {
    const original = promises[name] as (...args: unknown[]) => unknown;
    saved.push([promises, name, original]);
    promises[name] = (...args: unknown[]) => {
      const error = crashed(name);
      return error ? Promise.reject(error) : original(...args);
    };
  }
  for (const name of [...MUTATING_SYNC, ...MUTATING_SYNC_MORE]) {
    const original = sync[name] as (...args: unknown[]) => unknown;
    saved.push([sync, name, original]);
    sync[name] = (...args: unknown[]) => {
      const error = crashed(name);
      if (error) throw error;
      return original(...args);
    };
  }
  syncBuiltinESMExports();
  return () => {
    for (const [target, name, original] of saved) target[name] = original;
    syncBuiltinESMExports();
  };
}

/**
 * The vocabulary size of the retriever loadRetriever(dir) gives (it throws if it cannot load one,
 * or if the tokenizer and the backbone disagree). Loading parses the 9 MB Llama-3 tokenizer, so a
 * result is reused for identical files: same bytes in the same places load the same way.
 */
const loads = new Map<string, number>();
async function loadedVocabSize(dir: string): Promise<number> {
  const key = await filesFingerprint(scratch);
  let vocabSize = loads.get(key);
  if (vocabSize === undefined) {
    const loaded = await loadRetriever(dir);
    vocabSize = loaded.backbone.config.vocabSize;
    expect(loaded.tokenizer.vocabSize).toBe(vocabSize);
    loaded.dispose();
    loads.set(key, vocabSize);
  }
  return vocabSize;
}

/**
 * A hash of every file's path and bytes under `root`, but for unfinished saves (loadRetriever never
 * looks at them); crash tags (pid, random) in names are masked.
 */
async function filesFingerprint(root: string): Promise<string> {
  const hash = createHash("sha256");
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (rel === "" && entry.name.startsWith(".partial-")) continue; // what a save is writing: never read
      const name = entry.name.replace(/-\d+-[0-9a-f]{8}$/, "-*");
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path, `${rel}/${name}`);
      else
        hash
          .update(`${rel}/${name}\0`)
          .update(await readFile(path))
          .update("\0");
    }
  };
  await walk(root, "");
  return hash.digest("hex");
}

describe("saveRetriever over an existing retriever", () => {
  it("leaves the old or the new retriever, loadable, whatever write a crash stops at", async () => {
    const old = await tinyRetriever({}, 1);
    // Another vocabulary (another embedding table shape), as a retrain on another corpus gives.
    const tokenizer = await compactLlama3([...CORPUS, "Completely different words: zebra, quartz, violin."]);
    const next = Retriever.create({ config: tinyConfig(tokenizer.vocabSize), tokenizer, seed: 2 });
    const vocabSizes = [old.backbone.config.vocabSize, next.backbone.config.vocabSize];
    expect(vocabSizes[0]).not.toBe(vocabSizes[1]);
    const dir = join(scratch, "retriever");
    await saveRetriever(old, dir);

    let finished = false;
    let crashes = 0;
    for (let n = 1; n < 500 && !finished; n++) {
      const restore = crashAtWrite(n);
      try {
        await saveRetriever(next, dir);
        finished = true;
      } catch (error) {
        expect(String(error)).toContain("simulated crash");
        crashes++;
      } finally {
        restore();
      }
      const vocabSize = await loadedVocabSize(dir);
      expect(vocabSizes, `after a crash at write ${n}`).toContain(vocabSize);
      if (finished) {
        expect(vocabSize).toBe(vocabSizes[1]);
      } else {
        await saveRetriever(old, dir); // back to the old one, and clean up what the crash left
        expect((await readdir(scratch)).filter((e) => e !== "retriever")).toEqual([]);
      }
    }
    expect(finished).toBe(true);
    expect(crashes).toBeGreaterThan(5);
    expect(await readdir(scratch)).toEqual(["retriever"]);
    old.dispose();
    next.dispose();
  });

  it("never replaces a directory that holds other files", async () => {
    const retriever = await tinyRetriever();
    const dir = join(scratch, "mine");
    await mkdir(dir);
    await writeFile(join(dir, "notes.txt"), "not a retriever file");
    await expect(saveRetriever(retriever, dir)).rejects.toThrow(
      /mine: holds notes\.txt, which a saved retriever does not; save into a new or empty directory/,
    );
    expect(await readdir(dir)).toEqual(["notes.txt"]);
    await rm(dir, { recursive: true });
    retriever.dispose();
  });
});
