// Checks every published package of the workspace as npm would ship it, after the build:
// publint (package.json against the packed files) and arethetypeswrong (types resolve from ESM and
// CommonJS alike, under Node's node16 resolution — the packages need Node ≥ 20, so node10 is moot).
// Both pack with `npm pack` locally: no network. Exit code 1 if any package fails.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);
const packagesDir = path.join(root, "packages");

const packages = readdirSync(packagesDir)
  .map((name) => path.join(packagesDir, name))
  .filter((dir) => existsSync(path.join(dir, "package.json")))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) }))
  .filter(({ manifest }) => manifest.private !== true);

const failures = [];
for (const { dir, manifest } of packages) {
  if (!existsSync(path.join(dir, "dist"))) {
    failures.push(`${manifest.name}: no dist/ — build first (npx pnpm@10.34.9 build)`);
    continue;
  }
  if (!(manifest.files ?? []).includes("LICENSE") || !existsSync(path.join(dir, "LICENSE")))
    failures.push(`${manifest.name}: LICENSE missing from the package or its "files"`);
  for (const field of ["license", "engines", "repository", "homepage"])
    if (manifest[field] === undefined) failures.push(`${manifest.name}: package.json has no "${field}"`);
  // One repository for all, each package naming its folder in it (npm links the package page there).
  const rootRepository = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).repository;
  const folder = path.relative(root, dir).split(path.sep).join("/");
  if (manifest.repository?.url !== rootRepository?.url || manifest.repository?.directory !== folder)
    failures.push(
      `${manifest.name}: package.json "repository" must be { "type": "git", "url": "${rootRepository?.url}", "directory": "${folder}" }`,
    );
  const checks = [
    ["publint", [bin("publint"), "--pack", "npm", "--strict"]],
    ["arethetypeswrong", [bin("attw"), "--pack", ".", "--profile", "node16", "--format", "ascii"]],
  ];
  for (const [name, [command, ...args]] of checks) {
    const t0 = performance.now();
    const run = spawnSync(command, args, { cwd: dir, encoding: "utf8" });
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    const ok = run.status === 0;
    process.stdout.write(`${ok ? "ok  " : "FAIL"} ${manifest.name} ${name} (${seconds} s)\n`);
    if (!ok) failures.push(`${manifest.name}: ${name} failed:\n${run.stdout}${run.stderr}`);
  }
}
const versions = new Set(packages.map(({ manifest }) => manifest.version));
if (versions.size > 1)
  failures.push(
    `versions differ: ${packages.map(({ manifest }) => `${manifest.name}@${manifest.version}`).join(", ")}`,
  );
if (failures.length > 0) {
  process.stderr.write(`\n${failures.join("\n\n")}\n`);
  process.exit(1);
}
process.stdout.write(`all ${packages.length} packages pass publint and arethetypeswrong\n`);
