import { describe, expect, it } from "vitest";
import { batchTokenIds } from "../../src/tokenizer/batchTokenIds.js";

const special = { eosTokenId: 2, padTokenId: 0 };

describe("batchTokenIds", () => {
  it("right-pads, appends EOS and masks", () => {
    const b = batchTokenIds([[5, 6, 7], [8]], { maxLength: 10 }, special);
    expect(b).toEqual({
      inputIds: new Int32Array([5, 6, 7, 2, 8, 2, 0, 0]),
      attentionMask: new Int32Array([1, 1, 1, 1, 1, 1, 0, 0]),
      batch: 2,
      seqLen: 4,
      lengths: new Int32Array([4, 2]),
    });
  });

  it("left-pads to maxLength and truncates to maxLength − 1 before EOS", () => {
    const b = batchTokenIds(
      [[5, 6, 7, 8, 9], [8]],
      { maxLength: 4, padding: "maxLength", paddingSide: "left" },
      special,
    );
    expect(Array.from(b.inputIds)).toEqual([5, 6, 7, 2, 0, 0, 8, 2]);
    expect(Array.from(b.attentionMask)).toEqual([1, 1, 1, 1, 0, 0, 1, 1]);
  });

  it("without EOS truncates to maxLength and handles empty rows and an empty batch", () => {
    const b = batchTokenIds([[5, 6, 7], []], { maxLength: 2, appendEos: false }, special);
    expect(Array.from(b.inputIds)).toEqual([5, 6, 0, 0]);
    expect(Array.from(b.lengths)).toEqual([2, 0]);
    expect(batchTokenIds([], { maxLength: 4 }, special).inputIds.length).toBe(0);
  });

  it("names the bad option or sequence", () => {
    expect(() => batchTokenIds([[1]], { maxLength: 2.5 }, special)).toThrow(/maxLength must be an integer ≥ 2/);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately ill-typed input
    expect(() => batchTokenIds([[1]], { maxLength: 4, padding: "max" as any }, special)).toThrow(
      /padding must be "longest" or "maxLength"/,
    );
    // biome-ignore lint/suspicious/noExplicitAny: deliberately ill-typed input
    expect(() => batchTokenIds([[1], 7 as any], { maxLength: 4 }, special)).toThrow(/sequence 1 must be an array/);
    expect(() => batchTokenIds([[1, 0.5]], { maxLength: 4 }, special)).toThrow(/sequence 0, position 1: token id 0.5/);
    expect(() => batchTokenIds([[1]], { maxLength: 4 }, { eosTokenId: -1, padTokenId: 0 })).toThrow(
      /eosTokenId must be/,
    );
  });
});
