import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadPretrained, saveModel } from "@revela/language-model";
import { Retriever } from "@revela/retriever";
import { describe, expect, it } from "vitest";
import { retrieverIdentity } from "../src/index.js";
import { tinyRetriever } from "./support/tinyRetriever.js";

const TEXTS = ["a few words to build a vocabulary from", "query: passage: more words"];

describe("retrieverIdentity", () => {
  it("is the same for the same weights and differs for other weights or encoder options", async () => {
    const a = await tinyRetriever(TEXTS, 1);
    const b = await tinyRetriever(TEXTS, 1);
    const c = await tinyRetriever(TEXTS, 2);
    const d = await tinyRetriever(TEXTS, 1, 32);
    try {
      const id = retrieverIdentity(a, "mine");
      expect(id).toEqual({ id: "mine", hash: expect.stringMatching(/^[0-9a-f]{64}$/), dimensions: 32 });
      expect(retrieverIdentity(b).hash).toBe(id.hash);
      expect(retrieverIdentity(b).id).toBe(id.hash.slice(0, 12));
      expect(retrieverIdentity(c).hash).not.toBe(id.hash);
      expect(retrieverIdentity(d).hash).not.toBe(id.hash);
      expect(() => retrieverIdentity({} as never)).toThrow(/retriever must be a Retriever/);
      expect(() => retrieverIdentity(a, " ")).toThrow(/id must be a non-empty string/);
    } finally {
      for (const r of [a, b, c, d]) r.dispose();
    }
  });

  it("is the same whether the backbone's decoder layers are tensors or offloaded to JavaScript memory", async () => {
    const a = await tinyRetriever(TEXTS, 1);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "identity-offload-"));
    const loaded: Retriever[] = [];
    try {
      await saveModel(a.backbone, dir);
      for (const offloadLayers of [false, true]) {
        const backbone = await loadPretrained(dir, { backbone: true, offloadLayers });
        expect(backbone.offloaded.size > 0).toBe(offloadLayers);
        loaded.push(new Retriever({ backbone, tokenizer: a.tokenizer, options: a.options }));
      }
      const hash = retrieverIdentity(a).hash;
      expect(loaded.map((r) => retrieverIdentity(r).hash)).toEqual([hash, hash]);
    } finally {
      for (const r of [a, ...loaded]) r.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
