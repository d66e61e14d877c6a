import path from "node:path";
import type { Retriever } from "@revela/retriever";
import { type Collection, type Metric, retrieverIdentity, VectorStore } from "@revela/vector-store";
import { InvalidArgumentError, Option } from "commander";

/** --db and --collection, for the commands that index into or search a database. */
export const dbOption = () =>
  new Option(
    "--db <dir|url>",
    "database: a folder for the embedded PostgreSQL (PGlite, created if missing) or a postgres://user:pass@host:port/db URL of a server with pgvector",
  );
/** --exact, --ef-search and --hybrid: how a database search runs. */
export const searchModeOptions = () => [
  new Option("--exact", "scan every vector even where an HNSW index exists (the exact ranking)"),
  new Option("--ef-search <n>", "HNSW candidate list size (pgvector hnsw.ef_search, 1-1000; default 100)"),
  new Option("--hybrid", "fuse the dense ranking with PostgreSQL full-text search (ts_rank_cd) by RRF"),
];

export const collectionOption = () =>
  new Option("--collection <name>", "collection in the database (default: the dataset folder's name)");

/** A --filter value: a JSON object matched against each document's metadata by containment. */
export function jsonObject(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`It must be a JSON object (${(e as Error).message}).`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError("It must be a JSON object, e.g. '{\"year\": 2020}'.");
  }
  return parsed as Record<string, unknown>;
}

/** A collection name from a dataset folder: lower case, letters, digits and _ only. */
export function defaultCollectionName(dataDir: string): string {
  const name = path
    .basename(path.resolve(dataDir))
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/^[^a-z]+/, "");
  return name.slice(0, 40) || "corpus";
}

/**
 * Opens the store and the collection for `retriever` (identified by its weights' hash, labelled with
 * its folder name). A collection made by another retriever is refused there, naming both.
 */
export async function openCollection(
  db: string,
  name: string | undefined,
  retriever: Retriever,
  retrieverDir: string,
  options: { create: boolean; metric?: Metric },
): Promise<{ store: VectorStore; collection: Collection }> {
  const identity = retrieverIdentity(retriever, path.basename(path.resolve(retrieverDir)));
  const store = await VectorStore.open(db);
  try {
    if (name === undefined) {
      const names = (await store.collections()).map((c) => c.name);
      if (names.length !== 1) {
        throw new Error(
          names.length === 0
            ? `--db ${store.location} holds no collection yet (run revela index first)`
            : `--db ${store.location} holds the collections ${names.join(", ")}: choose one with --collection`,
        );
      }
      name = names[0] as string;
    }
    const collection = await store.collection(name, {
      retriever: identity,
      create: options.create,
      ...(options.metric ? { metric: options.metric } : {}),
    });
    return { store, collection };
  } catch (e) {
    await store.close();
    throw e;
  }
}
