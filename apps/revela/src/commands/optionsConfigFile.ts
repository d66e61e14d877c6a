import { type Command, InvalidArgumentError } from "commander";
import { readJsonObject } from "../config/readJsonObject.js";

/**
 * `--config <file.json>` for the commands whose settings are their flags (eval, encode, search):
 * a JSON object keyed by option names (`"batchSize"` or `"batch-size"`), each value checked by the
 * same parser as the flag. Flags typed on the command line win over the file; the file wins over
 * defaults. A key that is not an option of the command fails, listing the valid ones.
 */
export async function applyOptionsConfigFile(command: Command): Promise<void> {
  const file = command.opts<{ config?: string }>().config;
  if (file === undefined) return;
  const values = await readJsonObject(file);
  const settable = command.options.filter((o) => o.attributeName() !== "config" && o.long !== "--help");
  for (const [key, value] of Object.entries(values)) {
    const option = settable.find((o) => o.attributeName() === key || o.long === `--${key}`);
    if (!option) {
      throw new Error(
        `${file}: unknown config key "${key}" for "revela ${command.name()}"; valid keys: ${settable.map((o) => o.attributeName()).join(", ")}`,
      );
    }
    const name = option.attributeName();
    if (command.getOptionValueSource(name) === "cli") continue;
    let parsed: unknown;
    if (option.isBoolean()) {
      if (typeof value !== "boolean")
        throw new Error(`${file}: config key "${key}" must be true or false, got ${JSON.stringify(value)}`);
      parsed = value;
    } else {
      if (typeof value !== "string" && typeof value !== "number") {
        throw new Error(`${file}: config key "${key}" must be a string or a number, got ${JSON.stringify(value)}`);
      }
      const text = String(value);
      if (option.argChoices && !option.argChoices.includes(text)) {
        throw new Error(
          `${file}: config key "${key}" must be one of ${option.argChoices.join(", ")}, got ${JSON.stringify(value)}`,
        );
      }
      try {
        parsed = option.parseArg ? option.parseArg(text, undefined) : text;
      } catch (error) {
        if (error instanceof InvalidArgumentError) {
          throw new Error(`${file}: config key "${key}" = ${JSON.stringify(value)} is invalid. ${error.message}`);
        }
        throw error;
      }
    }
    command.setOptionValueWithSource(name, parsed, "config");
  }
}
