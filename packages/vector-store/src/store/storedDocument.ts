/** One document as the store keeps it: the text is kept for keyword search and for showing hits. */
export interface StoredDocument {
  /** Unique within a collection; upserting an id again replaces the document. */
  id: string;
  /** Non-empty text (what was encoded). */
  text: string;
  /** A JSON object to filter on (`search(…, { filter })` matches by containment). Default {}. */
  metadata?: Record<string, unknown>;
  /** The retriever's embedding of the text, of the collection's dimension. */
  vector: ArrayLike<number>;
}

/**
 * Throws, naming the document by position and id, unless every document is well formed for a
 * collection of `dimensions`: ids unique non-empty strings, text non-empty, metadata a plain JSON
 * object, vectors of the right length with finite values.
 */
export function checkDocuments(
  op: string,
  documents: unknown,
  dimensions: number,
): asserts documents is StoredDocument[] {
  if (!Array.isArray(documents))
    throw new Error(`${op}: documents must be an array of { id, text, metadata?, vector }`);
  const seen = new Map<string, number>();
  documents.forEach((doc: Partial<StoredDocument> | null, i) => {
    const where = `${op}: documents[${i}]`;
    if (typeof doc !== "object" || doc === null)
      throw new Error(`${where} must be an object { id, text, metadata?, vector }`);
    if (typeof doc.id !== "string" || doc.id === "") {
      throw new Error(`${where}: id must be a non-empty string, got ${JSON.stringify(doc.id)}`);
    }
    const name = `${where} (id ${JSON.stringify(doc.id)})`;
    const first = seen.get(doc.id);
    if (first !== undefined) throw new Error(`${name}: duplicate id, also documents[${first}]`);
    seen.set(doc.id, i);
    if (typeof doc.text !== "string" || doc.text.trim() === "") {
      throw new Error(`${name}: text must be a non-empty string`);
    }
    if (doc.text.includes("\u0000"))
      throw new Error(`${name}: text contains a NUL character, which PostgreSQL refuses`);
    const meta = doc.metadata;
    if (meta !== undefined && (typeof meta !== "object" || meta === null || Array.isArray(meta))) {
      throw new Error(`${name}: metadata must be a JSON object, got ${Array.isArray(meta) ? "an array" : typeof meta}`);
    }
    const v = doc.vector;
    if (typeof v !== "object" || v === null || typeof v.length !== "number") {
      throw new Error(`${name}: vector must be a Float32Array or an array of numbers`);
    }
    if (v.length !== dimensions) {
      throw new Error(
        `${name}: vector has ${v.length} dimensions, but the collection holds ${dimensions}-dimensional vectors`,
      );
    }
    for (let d = 0; d < v.length; d++) {
      if (!Number.isFinite(v[d])) throw new Error(`${name}: vector[${d}] is ${v[d]}; values must be finite`);
    }
  });
}
