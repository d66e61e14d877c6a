/**
 * tfjs keeps one registry of variable names per process: two models (or two LoRA adapters) must
 * never reuse a name, or the second fails with "Variable … already registered".
 */
let counter = 0;

export function uniqueVariableName(name: string): string {
  return `${name}#${counter++}`;
}
