import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { moveIntoPlace, syncPath, syncTree } from "../src/index.js";

const root = mkdtempSync(path.join(tmpdir(), "durable-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh parent holding a staged directory with one file saying `text`. */
function staged(text: string, parent = path.join(root, `p${n++}`)): { parent: string; dir: string } {
  const dir = path.join(parent, `.staged-${n++}`);
  mkdirSync(path.join(dir, "sub"), { recursive: true });
  writeFileSync(path.join(dir, "sub", "file.txt"), text);
  return { parent, dir };
}

describe("moveIntoPlace", () => {
  it("puts a synced directory at a new target, then replaces it, leaving neither staged nor aside copies", async () => {
    const first = staged("one");
    const target = path.join(first.parent, "target");
    await syncTree(first.dir);
    await moveIntoPlace(first.dir, target, path.join(first.parent, ".aside-1"));
    expect(readFileSync(path.join(target, "sub", "file.txt"), "utf8")).toBe("one");
    const second = staged("two", first.parent);
    await moveIntoPlace(second.dir, target, path.join(first.parent, ".aside-2"));
    expect(readFileSync(path.join(target, "sub", "file.txt"), "utf8")).toBe("two");
    expect(readdirSync(first.parent)).toEqual(["target"]);
  });

  it("puts the old directory back when the staged one cannot be moved in", async () => {
    const old = staged("old");
    const target = path.join(old.parent, "target");
    await moveIntoPlace(old.dir, target, path.join(old.parent, ".aside-1"));
    const missing = path.join(old.parent, ".staged-missing");
    await expect(moveIntoPlace(missing, target, path.join(old.parent, ".aside-2"))).rejects.toThrow(/ENOENT/);
    expect(readFileSync(path.join(target, "sub", "file.txt"), "utf8")).toBe("old");
    expect(existsSync(path.join(old.parent, ".aside-2"))).toBe(false);
  });

  it("refuses paths in different directories and empty ones, naming them", async () => {
    await expect(
      moveIntoPlace(path.join(root, "a", "s"), path.join(root, "b", "t"), path.join(root, "b", "o")),
    ).rejects.toThrow(/moveIntoPlace: staged \(.*\), target \(.*\) and aside \(.*\) must be in one directory/);
    await expect(moveIntoPlace("", "t", "o")).rejects.toThrow(/moveIntoPlace: staged must be a non-empty path, got ""/);
    await expect(syncPath("")).rejects.toThrow(/syncPath: path must be a non-empty string/);
  });
});
