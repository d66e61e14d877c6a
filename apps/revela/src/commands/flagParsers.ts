import { type OptionRule, parseOption } from "@revela/kernels";
import { InvalidArgumentError } from "commander";

/**
 * Parsers for flag values. Commander calls them with the raw text and reports a thrown
 * InvalidArgumentError as "option '--steps <n>' argument 'abc' is invalid. <message>", so the
 * message only has to say what was wanted. The same parsers check values from --config files.
 */
export const positiveInteger = (text: string): number => {
  const n = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError("It must be a positive integer.");
  }
  return n;
};

export const nonNegativeInteger = (text: string): number => {
  const n = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError("It must be an integer ≥ 0.");
  }
  return n;
};

export const positiveNumber = (text: string): number => {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError("It must be a number > 0.");
  }
  return n;
};

/** wasm threads: tfjs-backend-wasm 4.22 starts at most 8 workers (see @revela/kernels). */
export const threadCount = (text: string): number => {
  const n = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(n) || n < 1 || n > 8) {
    throw new InvalidArgumentError("It must be an integer from 1 to 8.");
  }
  return n;
};

/** A comma-separated list of non-empty names, e.g. "q_proj,v_proj". */
export const nameList = (text: string): string[] => {
  const names = text.split(",").map((s) => s.trim());
  if (names.length === 0 || names.some((s) => s === "")) {
    throw new InvalidArgumentError("It must be a comma-separated list of names, e.g. q_proj,v_proj.");
  }
  return names;
};

export const nonEmptyText = (text: string): string => {
  if (text.trim() === "") throw new InvalidArgumentError("It must not be empty.");
  return text;
};

export const nonNegativeNumber = (text: string): number => {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError("It must be a number ≥ 0.");
  }
  return n;
};

/** A share of something: 0 ≤ x < 1 (a dropout rate, a share of the training time). */
export const fraction = (text: string): number => {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0 || n >= 1) {
    throw new InvalidArgumentError("It must be a number from 0 to below 1.");
  }
  return n;
};

/** An integer ≥ `min`. */
export const integerAtLeast =
  (min: number) =>
  (text: string): number => {
    const n = Number(text);
    if (text.trim() === "" || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`It must be an integer ≥ ${min}.`);
    }
    return n;
  };

/** The parser of a setting with an option rule (e.g. a package's schema entry): the rule's check, as a flag error. */
export function parserOf(rule: OptionRule): (text: string) => number | boolean | string {
  return (text) => {
    try {
      return parseOption(rule, text);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}
