import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { JsonObject, JsonValue } from "./checkpointData.js";

/** A config with any part left out (what a file, `values` or overrides may give). */
export type PartialConfig<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? PartialConfig<T[K]> : T[K];
};

export interface ResolveConfigOptions<T = JsonObject> {
  /** A JSON file holding part (or all) of the config; applied over the defaults. */
  file?: string;
  /** Part of the config as an object; applied after the file. */
  values?: PartialConfig<T>;
  /** `key.path=value` strings (e.g. from the command line); applied last. */
  overrides?: readonly string[];
}

const isSection = (v: unknown): v is JsonObject => v !== null && typeof v === "object" && !Array.isArray(v);

const kindOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/** Every leaf key of a config, dotted (`optim.lr`), in definition order. */
export function configKeys(config: JsonObject, prefix = ""): string[] {
  const keys: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (isSection(value) && Object.keys(value).length > 0) keys.push(...configKeys(value, `${prefix}${key}.`));
    else keys.push(`${prefix}${key}`);
  }
  return keys;
}

function unknownKey(dotted: string, parent: JsonObject, parentPath: string, source: string): Error {
  const valid = configKeys(parent, parentPath === "" ? "" : `${parentPath}.`);
  return new Error(
    `${source}: unknown config key "${dotted}"; valid keys${parentPath ? ` under "${parentPath}"` : ""}: ${valid.join(", ")}`,
  );
}

/** Checks that `value` may replace `current` (same kind; a null default accepts anything). */
function requireSameKind(dotted: string, current: JsonValue, value: JsonValue, source: string): void {
  if (current === null || kindOf(current) === kindOf(value)) return;
  throw new Error(
    `${source}: config key "${dotted}" must be a${kindOf(current) === "array" ? "n" : ""} ${kindOf(current)} (like its default ${JSON.stringify(current)}), got ${JSON.stringify(value)}`,
  );
}

/** Deep-merges `partial` into `target` (a copy of the defaults), rejecting keys the defaults lack. */
function mergeSection(
  target: JsonObject,
  defaults: JsonObject,
  partial: JsonObject,
  parentPath: string,
  source: string,
): void {
  for (const [key, value] of Object.entries(partial)) {
    const dotted = parentPath ? `${parentPath}.${key}` : key;
    if (!Object.hasOwn(defaults, key)) throw unknownKey(dotted, defaults, parentPath, source);
    const d = defaults[key] as JsonValue;
    if (isSection(d) && Object.keys(d).length > 0) {
      if (!isSection(value)) {
        throw new Error(
          `${source}: config key "${dotted}" is a section; give an object with keys ${configKeys(d, `${dotted}.`).join(", ")}`,
        );
      }
      mergeSection(target[key] as JsonObject, d, value, dotted, source);
    } else {
      requireSameKind(dotted, d, value, source);
      target[key] = structuredClone(value);
    }
  }
}

/** Splits `key.path=value` at the first `=`. */
export function parseConfigOverride(text: string): { key: string; path: string[]; raw: string } {
  if (typeof text !== "string")
    throw new Error(`config override must be a "key.path=value" string, got ${kindOf(text)}`);
  const eq = text.indexOf("=");
  const key = eq < 0 ? "" : text.slice(0, eq).trim();
  const path = key.split(".");
  if (eq < 0 || key === "" || path.some((p) => p === "")) {
    throw new Error(`config override "${text}" must look like key.path=value`);
  }
  return { key, path, raw: text.slice(eq + 1) };
}

/** Parses an override's text as the kind its default has (a null default: JSON if it parses, else a string). */
function parseOverrideValue(dotted: string, current: JsonValue, raw: string, source: string): JsonValue {
  const fail = (want: string) =>
    new Error(
      `${source}: config key "${dotted}" must be ${want} (its default is ${JSON.stringify(current)}), got "${raw}"`,
    );
  switch (kindOf(current)) {
    case "string":
      return raw;
    case "number": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n)) throw fail("a finite number");
      return n;
    }
    case "boolean":
      if (raw === "true") return true;
      if (raw === "false") return false;
      throw fail("true or false");
    case "null":
      try {
        return JSON.parse(raw) as JsonValue;
      } catch {
        return raw;
      }
    default: {
      let parsed: JsonValue;
      try {
        parsed = JSON.parse(raw) as JsonValue;
      } catch {
        throw fail(`JSON for a${kindOf(current) === "array" ? "n" : ""} ${kindOf(current)}`);
      }
      requireSameKind(dotted, current, parsed, source);
      return parsed;
    }
  }
}

function applyOverride(config: JsonObject, defaults: JsonObject, text: string): void {
  const source = `override "${text}"`;
  const { key, path: keys, raw } = parseConfigOverride(text);
  let target = config;
  let d = defaults;
  keys.forEach((k, i) => {
    const parentPath = keys.slice(0, i).join(".");
    if (!Object.hasOwn(d, k)) throw unknownKey(key, d, parentPath, source);
    const next = d[k] as JsonValue;
    const last = i === keys.length - 1;
    const section = isSection(next) && Object.keys(next).length > 0;
    if (last && section) {
      throw new Error(
        `${source}: config key "${key}" is a section; set one of ${configKeys(next, `${key}.`).join(", ")}`,
      );
    }
    if (!last && !section)
      throw new Error(`${source}: config key "${keys.slice(0, i + 1).join(".")}" is a value, not a section`);
    if (last) target[k] = parseOverrideValue(key, next, raw, source);
    else {
      target = target[k] as JsonObject;
      d = next as JsonObject;
    }
  });
}

/**
 * The run's config: `defaults`, then the JSON `file`, then `values`, then the `key.path=value`
 * `overrides`, each layer checked against the defaults — a key they lack is rejected with the valid
 * keys listed, and a value must have its default's kind (override text is parsed as that kind:
 * numbers, true/false, strings as given, JSON for arrays). The defaults are not modified.
 */
export function resolveRunConfig<T extends object>(defaults: T, options: ResolveConfigOptions<T> = {}): T {
  if (!isSection(defaults))
    throw new Error(`resolveRunConfig: defaults must be a config object, got ${kindOf(defaults)}`);
  const base = defaults as JsonObject;
  const config = structuredClone(base);
  if (options.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.file, "utf8");
    } catch (error) {
      throw new Error(`resolveRunConfig: cannot read config file ${options.file}: ${(error as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error(`${options.file}: invalid JSON: ${(error as Error).message}`);
    }
    if (!isSection(parsed))
      throw new Error(`${options.file}: a config file must hold a JSON object, got ${kindOf(parsed)}`);
    mergeSection(config, base, parsed, "", options.file);
  }
  if (options.values !== undefined) {
    if (!isSection(options.values))
      throw new Error(`resolveRunConfig: options.values must be an object, got ${kindOf(options.values)}`);
    mergeSection(config, base, options.values as JsonObject, "", "options.values");
  }
  for (const text of options.overrides ?? []) applyOverride(config, base, text);
  return config as T;
}

/** Writes the resolved config to `runDir/config.json` (temp file + rename, so never half-written); returns the path. */
export function writeRunConfig(runDir: string, config: object): string {
  if (typeof runDir !== "string" || runDir === "") throw new Error("writeRunConfig: runDir must be a non-empty path");
  if (!isSection(config)) throw new Error(`writeRunConfig: config must be an object, got ${kindOf(config)}`);
  mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, "config.json");
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`);
  renameSync(tmp, file);
  return file;
}
