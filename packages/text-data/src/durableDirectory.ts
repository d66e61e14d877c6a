import { open, readdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";

/** fsyncs a file or a directory (a directory's entries: a rename in it survives a power loss). */
export async function syncPath(path: string): Promise<void> {
  if (typeof path !== "string" || path === "")
    throw new Error(`syncPath: path must be a non-empty string, got ${JSON.stringify(path)}`);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (error) {
    // Windows cannot open a directory to fsync it; its renames are durable without that.
    if (process.platform === "win32") return;
    throw error;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs every file and directory under `dir` and `dir` itself, so that renaming it never exposes unwritten data. */
export async function syncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await syncTree(path);
    else await syncPath(path);
  }
  await syncPath(dir);
}

/**
 * Puts the finished directory `staged` (its contents already synced) at `target`, so that a crash
 * at any moment leaves the complete old or the complete new directory. rename() cannot replace a
 * non-empty directory, so an existing `target` is first renamed to `aside` (a sibling; callers
 * recover it from there if a crash falls between the two renames), `staged` is renamed into place
 * — the old one is put back if that fails — the parent is synced, and `aside` is deleted.
 */
export async function moveIntoPlace(staged: string, target: string, aside: string): Promise<void> {
  for (const [name, value] of Object.entries({ staged, target, aside })) {
    if (typeof value !== "string" || value === "")
      throw new Error(`moveIntoPlace: ${name} must be a non-empty path, got ${JSON.stringify(value)}`);
  }
  if (dirname(staged) !== dirname(target) || dirname(aside) !== dirname(target))
    throw new Error(
      `moveIntoPlace: staged (${staged}), target (${target}) and aside (${aside}) must be in one directory (renames across directories are not atomic)`,
    );
  const replacing = await rename(target, aside).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return false;
      throw error;
    },
  );
  try {
    await rename(staged, target);
  } catch (error) {
    if (replacing) await rename(aside, target);
    throw error;
  }
  await syncPath(dirname(target));
  if (replacing) await rm(aside, { recursive: true, force: true });
}
