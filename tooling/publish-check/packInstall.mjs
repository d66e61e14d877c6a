// The pack-and-install check: packs every published package as a release would (pnpm pack turns
// workspace: ranges into versions), installs all the tarballs into a scratch project outside the
// workspace, then imports each package from ESM and from CommonJS and runs the revela-backend bin.
// The tarballs point at each other through overrides (they are not on the registry). Third-party
// dependencies come from pnpm's store, but their registry metadata is not cached by a frozen
// workspace install, so this needs the npm registry: it is not part of `test`.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const pnpm = ["--yes", "pnpm@10.34.9"];
const run = (command, args, cwd) => {
  const r = spawnSync(command, args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} (in ${cwd}) failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
};

const packages = readdirSync(path.join(root, "packages"))
  .map((name) => path.join(root, "packages", name))
  .filter((dir) => existsSync(path.join(dir, "package.json")))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) }))
  .filter(({ manifest }) => manifest.private !== true);

const scratch = mkdtempSync(path.join(tmpdir(), "revela-pack-install-"));
try {
  const tarballs = {};
  for (const { dir, manifest } of packages) {
    if (!existsSync(path.join(dir, "dist"))) throw new Error(`${manifest.name}: no dist/ — build first`);
    const before = new Set(readdirSync(scratch));
    run("npx", [...pnpm, "pack", "--pack-destination", scratch], dir);
    const made = readdirSync(scratch).filter((f) => f.endsWith(".tgz") && !before.has(f));
    if (made.length !== 1) throw new Error(`${manifest.name}: pnpm pack made ${made.length} tarballs`);
    tarballs[manifest.name] = `file:${path.join(scratch, made[0])}`;
  }
  const project = path.join(scratch, "project");
  run("mkdir", ["-p", project], scratch);
  writeFileSync(
    path.join(project, "package.json"),
    JSON.stringify({ name: "scratch", private: true, dependencies: tarballs, pnpm: { overrides: tarballs } }, null, 2),
  );
  run("npx", [...pnpm, "install", "--prefer-offline", "--config.ignore-scripts=true"], project);
  const names = Object.keys(tarballs);
  writeFileSync(
    path.join(project, "esm.mjs"),
    `for (const n of ${JSON.stringify(names)}) { const m = await import(n); if (Object.keys(m).length === 0) throw new Error(n + ": no exports from ESM"); }\n`,
  );
  writeFileSync(
    path.join(project, "cjs.cjs"),
    `for (const n of ${JSON.stringify(names)}) { const m = require(n); if (Object.keys(m).length === 0) throw new Error(n + ": no exports from CommonJS"); }\n`,
  );
  run("node", ["esm.mjs"], project);
  run("node", ["cjs.cjs"], project);
  const report = run(path.join(project, "node_modules", ".bin", "revela-backend"), ["--backend", "cpu"], project);
  if (!/backend: cpu/.test(report)) throw new Error(`revela-backend printed: ${report}`);
  process.stdout.write(
    `all ${names.length} tarballs install into a scratch project and load from ESM and CommonJS; revela-backend runs\n`,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
