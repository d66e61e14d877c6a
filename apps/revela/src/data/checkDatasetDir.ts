import { statSync } from "node:fs";
import path from "node:path";

/**
 * Throws unless `dir` is a folder in BEIR layout with the files a command needs: corpus.jsonl
 * always, and queries.jsonl plus qrels/<split>.tsv when it evaluates. Checked before any model is
 * built, so a typo in --data fails in a second, not after an hour of training. `source` says where
 * the path came from (`--data`, a config file key). The files' contents are checked when read.
 */
export function checkDatasetDir(dir: string, source: string, options: { split?: string } = {}): void {
  let stat: ReturnType<typeof statSync> | undefined;
  try {
    stat = statSync(dir);
  } catch {
    throw new Error(`${source} ${dir}: no such directory`);
  }
  if (!stat.isDirectory()) throw new Error(`${source} ${dir}: not a directory (give a BEIR dataset folder)`);
  const needed = ["corpus.jsonl"];
  if (options.split !== undefined) needed.push("queries.jsonl", path.join("qrels", `${options.split}.tsv`));
  const missing = needed.filter((f) => {
    try {
      return !statSync(path.join(dir, f)).isFile();
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(
      `${source} ${dir}: not a BEIR dataset folder, missing ${missing.join(", ")} (expected corpus.jsonl, queries.jsonl, qrels/<split>.tsv)`,
    );
  }
}
