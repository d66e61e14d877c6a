import pgvector from "pgvector";

/**
 * pgvector's text form of a float32 vector. JavaScript prints each float32 value's exact double
 * shortest-round-trip, which pgvector's strtof reads back to the same float32: storing is lossless.
 */
export function vectorToSql(vector: ArrayLike<number>): string {
  return pgvector.toSql(Array.from(vector)) as string;
}

/** A vector read back as text ("[0.1,0.2]") as float32 values (pgvector prints each float32 exactly). */
export function vectorFromSql(text: string): Float32Array {
  const parsed = pgvector.fromSql(text);
  if (!Array.isArray(parsed)) throw new Error(`expected a pgvector vector, got ${text.slice(0, 40)}`);
  return Float32Array.from(parsed);
}
