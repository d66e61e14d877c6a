import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { moveIntoPlace, syncTree } from "@revela/text-data";

/**
 * Replacing a directory so that a crash (kill -9, power loss) at any moment leaves either the
 * complete old directory or the complete new one, never a mix. The new contents are written into a
 * hidden sibling `.partial-<name>-<tag>`, synced, and renamed into place. rename() cannot replace a
 * non-empty directory, so an existing one is first moved aside to `.old-<name>-<tag>` and deleted
 * once the new one is in place; between those two renames (microseconds) only the moved-aside copy
 * exists, and `recoverDirectory` puts it back. The next replacement deletes what a crash left.
 */

const PARTIAL = ".partial-";
const OLD = ".old-";

const leftoverOf = (name: string, entry: string, kind: string) =>
  entry.startsWith(`${kind}${name}-`) && /^[0-9]+-[0-9a-f]{8}$/.test(entry.slice(kind.length + name.length + 1));

/**
 * Puts back a directory moved aside by a replacement that crashed before its new contents arrived,
 * and deletes the unfinished `.partial-` copies of `target`. Returns whether `target` exists now.
 */
export async function recoverDirectory(target: string): Promise<boolean> {
  const full = resolve(target);
  const parent = dirname(full);
  const name = basename(full);
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return false;
  }
  let exists = entries.includes(name);
  for (const entry of entries) {
    if (leftoverOf(name, entry, OLD) && !exists) {
      await rename(join(parent, entry), full);
      exists = true;
    }
  }
  for (const entry of entries) {
    if (leftoverOf(name, entry, PARTIAL) || (leftoverOf(name, entry, OLD) && exists)) {
      await rm(join(parent, entry), { recursive: true, force: true });
    }
  }
  return exists;
}

/**
 * Where a reader finds `target` in the instant a replacement has moved it aside (or after a crash
 * there): the moved-aside copy when `target` itself is missing, else null. Read-only, so a reader
 * never disturbs a replacement in progress.
 */
export async function movedAside(target: string): Promise<string | null> {
  const full = resolve(target);
  const parent = dirname(full);
  const name = basename(full);
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return null;
  }
  if (entries.includes(name)) return null;
  const aside = entries.find((entry) => leftoverOf(name, entry, OLD));
  return aside === undefined ? null : join(parent, aside);
}

/**
 * Writes a new `target` directory with `write(tmpDir)` and swaps it in atomically (see above).
 * `replaceable(entries)` is asked before an existing `target` is replaced, with its entry names;
 * it returns an error message to refuse (a directory that is not ours must never be deleted).
 */
export async function replaceDirectory(
  target: string,
  write: (tmpDir: string) => Promise<void>,
  replaceable: (entries: string[]) => string | null,
): Promise<void> {
  const full = resolve(target);
  const parent = dirname(full);
  const name = basename(full);
  await mkdir(parent, { recursive: true });
  const exists = await recoverDirectory(full);
  if (exists) {
    const info = await stat(full);
    if (!info.isDirectory()) throw new Error(`${target}: exists and is not a directory`);
    const refusal = replaceable(await readdir(full));
    if (refusal !== null) throw new Error(`${target}: ${refusal}`);
  }
  const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const partial = join(parent, `${PARTIAL}${name}-${tag}`);
  const old = join(parent, `${OLD}${name}-${tag}`);
  await mkdir(partial);
  try {
    await write(partial);
    await syncTree(partial);
    await moveIntoPlace(partial, full, old);
  } catch (error) {
    await rm(partial, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
}
