/** PEFT's `adapter_config.json` for LoRA, in our names. */
export interface LoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  /** Module names (last path part, e.g. "q_proj") or one regular expression over full module names, as PEFT accepts. */
  targetModules: string[] | string;
  /** rsLoRA scales by alpha/√r instead of alpha/r. */
  useRslora: boolean;
  /** Fields we keep verbatim so saving writes them back. */
  extra: Record<string, unknown>;
}

export function loraScaling(c: LoraConfig): number {
  return c.useRslora ? c.loraAlpha / Math.sqrt(c.r) : c.loraAlpha / c.r;
}

/** The largest LoRA rank accepted: the largest hidden size a config may have (CONFIG_LIMITS). */
export const MAX_LORA_RANK = 1 << 16;

/** Validates and reads an adapter_config.json object. Settings we cannot honour fail, naming the field. */
export function parseLoraConfig(raw: unknown, source = "adapter_config.json"): LoraConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new Error(`${source}: must hold a JSON object`);
  const o = raw as Record<string, unknown>;
  const fail = (field: string, wanted: string): never => {
    throw new Error(`${source}: field "${field}" must be ${wanted}, got ${JSON.stringify(o[field])}`);
  };
  if (o.peft_type !== undefined && o.peft_type !== "LORA") fail("peft_type", '"LORA"');
  const r = o.r;
  // A rank above a layer's width adds nothing; bounding it keeps a corrupt file from allocating without end.
  if (typeof r !== "number" || !Number.isInteger(r) || r < 1 || r > MAX_LORA_RANK)
    fail("r", `an integer from 1 to ${MAX_LORA_RANK}`);
  const alpha = o.lora_alpha ?? r;
  if (typeof alpha !== "number" || !(alpha > 0)) fail("lora_alpha", "a positive number");
  const dropout = o.lora_dropout ?? 0;
  if (typeof dropout !== "number" || dropout < 0 || dropout >= 1) fail("lora_dropout", "a number in [0, 1)");
  const targets = o.target_modules;
  const targetOk =
    (typeof targets === "string" && targets.length > 0) ||
    (Array.isArray(targets) && targets.length > 0 && targets.every((t) => typeof t === "string" && t.length > 0));
  if (!targetOk) fail("target_modules", "a non-empty list of module names or a regular expression");
  for (const [field, allowed] of [
    ["bias", ["none", undefined]],
    ["fan_in_fan_out", [false, undefined]],
    ["use_dora", [false, undefined]],
    ["modules_to_save", [null, undefined]],
    ["layers_to_transform", [null, undefined]],
    ["rank_pattern", [undefined, null]],
    ["alpha_pattern", [undefined, null]],
  ] as const) {
    const v = o[field];
    const isEmptyObject = typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
    if (!(allowed as readonly unknown[]).includes(v) && !isEmptyObject) {
      throw new Error(
        `${source}: field "${field}" = ${JSON.stringify(v)} is not supported (only plain LoRA on linear layers is)`,
      );
    }
  }
  const useRslora = o.use_rslora ?? false;
  if (typeof useRslora !== "boolean") fail("use_rslora", "true or false");
  const known = new Set(["r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora"]);
  const extra = Object.fromEntries(Object.entries(o).filter(([k]) => !known.has(k)));
  return {
    r: r as number,
    loraAlpha: alpha as number,
    loraDropout: dropout as number,
    targetModules: targets as string[] | string,
    useRslora: useRslora as boolean,
    extra,
  };
}

/** Our config as PEFT's adapter_config.json object. */
export function toPeftConfig(c: LoraConfig): Record<string, unknown> {
  return {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    bias: "none",
    fan_in_fan_out: false,
    modules_to_save: null,
    ...c.extra,
    r: c.r,
    lora_alpha: c.loraAlpha,
    lora_dropout: c.loraDropout,
    target_modules: c.targetModules,
    use_rslora: c.useRslora,
  };
}

/** Whether PEFT would put an adapter on `moduleName` (full name, e.g. "model.layers.0.self_attn.q_proj"). */
export function isLoraTarget(c: LoraConfig, moduleName: string): boolean {
  if (typeof c.targetModules === "string") return new RegExp(`^(?:${c.targetModules})$`).test(moduleName);
  const last = moduleName.split(".").pop() as string;
  return c.targetModules.some((t) => t === last || moduleName.endsWith(`.${t}`) || t === moduleName);
}
