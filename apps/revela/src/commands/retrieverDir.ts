import { statSync } from "node:fs";
import path from "node:path";
import { loadRetriever, RETRIEVER_CONFIG_FILE, type Retriever } from "@revela/retriever";

/**
 * Throws unless `dir` looks like a saved retriever folder (saveRetriever writes retriever.json
 * last, so its presence means complete). Called before any data is read or backend started, so
 * that a wrong path says so at once instead of failing deep inside the checkpoint reader.
 */
export function checkRetrieverDir(dir: string, source = "--retriever"): void {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new Error(`${source} ${dir}: no such directory`);
  if (!stat.isDirectory()) throw new Error(`${source} ${dir}: not a directory (give a saved retriever folder)`);
  if (!statSync(path.join(dir, RETRIEVER_CONFIG_FILE), { throwIfNoEntry: false })?.isFile()) {
    throw new Error(
      `${source} ${dir}: no ${RETRIEVER_CONFIG_FILE}, so not a saved retriever folder (revela train saves one as <out>/retriever)`,
    );
  }
}

/** Loads a saved retriever folder after checking it is one. */
export async function openRetriever(dir: string, source = "--retriever"): Promise<Retriever> {
  checkRetrieverDir(dir, source);
  return loadRetriever(dir);
}
