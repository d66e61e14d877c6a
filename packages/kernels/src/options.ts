/**
 * A tunable declared once, next to the code that uses it: its kind, default, allowed values and a
 * one-line doc. Packages export their schemas; an application derives its config defaults, config
 * file checks and command-line flags from them instead of restating each setting. It lives in
 * kernels because every other package already depends on it.
 */
export type OptionSpec = NumberOption | ChoiceOption<string> | BooleanOption;

export interface NumberOption {
  kind: "number";
  default: number;
  /** Whole numbers only. */
  integer?: boolean;
  /** Smallest allowed value (inclusive unless `minExclusive`). */
  min?: number;
  minExclusive?: boolean;
  /** Largest allowed value (inclusive unless `maxExclusive`). */
  max?: number;
  maxExclusive?: boolean;
  doc: string;
}

export interface ChoiceOption<C extends string> {
  kind: "choice";
  choices: readonly C[];
  default: C;
  doc: string;
}

export interface BooleanOption {
  kind: "boolean";
  default: boolean;
  doc: string;
}

/** A spec without its default: an application's rule for a setting whose default is its own. */
export type OptionRule = DistributiveOmit<OptionSpec, "default">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The allowed values in words, e.g. "a positive integer", "a number from 0 to below 1", `one of "a", "b"`. */
export function describeOption(rule: OptionRule): string {
  if (rule.kind === "boolean") return "true or false";
  if (rule.kind === "choice") return `one of ${rule.choices.map((c) => JSON.stringify(c)).join(", ")}`;
  const noun = rule.integer ? "an integer" : "a number";
  const { min, max, minExclusive, maxExclusive } = rule;
  if (min !== undefined && max !== undefined) {
    if (minExclusive) return `${noun} > ${min} and ${maxExclusive ? "<" : "≤"} ${max}`;
    return `${noun} from ${min} to ${maxExclusive ? "below " : ""}${max}`;
  }
  if (min !== undefined) {
    if (rule.integer && ((min === 1 && !minExclusive) || (min === 0 && minExclusive))) return "a positive integer";
    return `${noun} ${minExclusive ? ">" : "≥"} ${min}`;
  }
  if (max !== undefined) return `${noun} ${maxExclusive ? "<" : "≤"} ${max}`;
  return rule.integer ? "an integer" : "a finite number";
}

/** Whether `value` is allowed by `rule` (numbers must be finite; integers safe). */
export function optionAllows(rule: OptionRule, value: unknown): boolean {
  if (rule.kind === "boolean") return typeof value === "boolean";
  if (rule.kind === "choice") return typeof value === "string" && rule.choices.includes(value);
  if (typeof value !== "number" || !Number.isFinite(value)) return false;
  if (rule.integer && !Number.isSafeInteger(value)) return false;
  if (rule.min !== undefined && (rule.minExclusive ? value <= rule.min : value < rule.min)) return false;
  if (rule.max !== undefined && (rule.maxExclusive ? value >= rule.max : value > rule.max)) return false;
  return true;
}

/**
 * Returns `value` if `rule` allows it, else throws `${where} must be <allowed>, got <value>` —
 * `where` names the option and its owner, e.g. "documentWeights: temperature".
 */
export function checkOption<T>(rule: OptionRule, value: T, where: string): T {
  if (rule === null || typeof rule !== "object" || !("kind" in rule)) {
    throw new Error(`checkOption: the rule for ${where} must be an option spec, got ${String(rule)}`);
  }
  if (!optionAllows(rule, value)) {
    const shown = typeof value === "number" ? String(value) : JSON.stringify(value);
    throw new Error(`${where} must be ${describeOption(rule)}, got ${shown}`);
  }
  return value;
}

/**
 * Reads a setting typed as text (a command-line flag) by its rule: a number, true/false or a
 * choice. Throws `<allowed in words>` (e.g. "It must be a positive integer.") so that a CLI can
 * prefix the flag and the text.
 */
export function parseOption(rule: OptionRule, text: string): number | boolean | string {
  if (typeof text !== "string") throw new Error(`parseOption: text must be a string, got ${typeof text}`);
  let value: number | boolean | string = text;
  if (rule.kind === "number") value = text.trim() === "" ? Number.NaN : Number(text);
  else if (rule.kind === "boolean") value = text === "true" ? true : text === "false" ? false : text;
  if (!optionAllows(rule, value)) {
    const describe = describeOption(rule);
    throw new Error(`It must be ${describe}.`);
  }
  return value;
}

/** `{ name: spec.default }` for every option of a schema. */
export function optionDefaults<S extends Record<string, OptionSpec>>(schema: S): { [K in keyof S]: S[K]["default"] } {
  if (schema === null || typeof schema !== "object") throw new Error("optionDefaults: schema must be an object");
  return Object.fromEntries(Object.entries(schema).map(([name, spec]) => [name, spec.default])) as {
    [K in keyof S]: S[K]["default"];
  };
}
