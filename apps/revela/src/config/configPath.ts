const isSection = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Sets a dotted key (e.g. "model.loraR") in a nested object, creating sections on the way. */
export function setConfigPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split(".");
  let node = target;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) node[key] = value;
    else {
      if (!isSection(node[key])) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
  });
}

/** Reads a dotted key from a nested object (undefined when absent). */
export function getConfigPath(source: unknown, dotted: string): unknown {
  let node: unknown = source;
  for (const key of dotted.split(".")) {
    if (!isSection(node)) return undefined;
    node = node[key];
  }
  return node;
}
