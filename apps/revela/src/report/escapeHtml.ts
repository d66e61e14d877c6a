const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Text made safe for HTML and SVG content and attribute values. Every string that reaches the
 * report (system names, document ids, config values) goes through here: a chunk label such as
 * `<script>` must render as text, not run.
 */
export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c] as string);
}
