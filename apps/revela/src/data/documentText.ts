/**
 * The text a dense encoder sees for a BEIR document: title and body joined by a space, as BEIR's
 * dense evaluation does (title is often empty). Shared by `revela eval`, `revela encode` and the
 * pipeline so that a document is embedded the same way everywhere.
 */
export function documentText(doc: { title?: string; text: string }): string {
  const title = doc.title?.trim() ?? "";
  return title === "" ? doc.text : `${title} ${doc.text}`;
}
