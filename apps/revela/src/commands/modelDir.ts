import { statSync } from "node:fs";
import path from "node:path";

/** A checkpoint folder must at least have config.json; the loader checks the weights themselves. */
export function checkModelDir(dir: string, source: string): void {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new Error(`${source} ${dir}: no such directory`);
  if (!stat.isDirectory()) throw new Error(`${source} ${dir}: not a directory (give a Hugging Face checkpoint folder)`);
  if (!statSync(path.join(dir, "config.json"), { throwIfNoEntry: false })?.isFile()) {
    throw new Error(`${source} ${dir}: no config.json (expected a Hugging Face checkpoint folder)`);
  }
}
