import { readFile } from "node:fs/promises";

/** Reads a JSON file that must hold one object; errors name the file (and JSON's own position). */
export async function readJsonObject(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === "ENOENT"
        ? `config file ${file} does not exist`
        : code === "EISDIR"
          ? `config file ${file} is a directory, not a JSON file`
          : `cannot read config file ${file}: ${(error as Error).message}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: invalid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(
      `${file}: a config file must hold a JSON object, got ${parsed === null ? "null" : Array.isArray(parsed) ? "an array" : typeof parsed}`,
    );
  }
  return parsed as Record<string, unknown>;
}
