import { initBackend } from "@revela/kernels";
import { CausalLM } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import { SeededRandom } from "@revela/trainer";
import { beforeAll, describe, expect, it } from "vitest";
import { PlantedCorpus } from "../src/demo/plantedCorpus.js";
import { DEMO_SETTINGS, type PlantedSettings, runPlantedExperiment } from "../src/demo/plantedExperiment.js";

beforeAll(async () => {
  // One thread: the figures then do not depend on the machine's core count.
  await initBackend({ backend: "wasm", threads: 1 });
});

describe("the planted corpus", () => {
  const corpus = new PlantedCorpus({ pairs: 12, seed: 5 });
  const retriever = () =>
    new DenseEncoder(
      CausalLM.create(
        {
          architectures: ["LlamaForCausalLM"],
          model_type: "llama",
          vocab_size: corpus.tokenizer.vocabSize,
          hidden_size: 8,
          intermediate_size: 8,
          num_hidden_layers: 1,
          num_attention_heads: 2,
          num_key_value_heads: 1,
          max_position_embeddings: 32,
        },
        { backbone: true },
      ),
      corpus.tokenizer,
      { maxLength: 32 },
    );
  const words = (ids: number[]) => ids.map((id) => corpus.tokenizer.wordOf(id));

  it("puts the entity in both retriever views and the facts only in the passage view", () => {
    // The views as the trainer builds them (DenseEncoder.tokenize), whatever its query-view rule.
    const encoder = retriever();
    for (const c of corpus.allChunks()) {
      const query = words(encoder.tokenize(c.text, "query", { queryView: true }));
      const passage = words(encoder.tokenize(c.text, "passage"));
      expect(query, c.text).toContain(c.entity);
      expect(passage, c.text).toContain(c.entity);
      for (const f of c.facts) {
        expect(query, c.text).not.toContain(f);
        expect(passage.filter((w) => w === f).length, c.text).toBe(2);
      }
    }
    encoder.backbone.dispose();
  });

  it("samples batches that hold every chunk's partner, with facts drawn afresh, deterministically", () => {
    const draw = (seed: number) => corpus.sampleBatch(4, SeededRandom.fromSeed(seed));
    const a = draw(1);
    expect(a.chunks).toHaveLength(8);
    for (const c of a.chunks) {
      const partners = a.chunks.filter((d) => d !== c && d.pair === c.pair);
      expect(partners).toHaveLength(1);
      expect(partners[0]?.facts).toEqual(c.facts);
      expect(partners[0]?.side).toBe(1 - c.side);
    }
    expect(draw(1)).toEqual(a);
    // Facts of the same pair differ between draws: the LM cannot memorise them.
    const facts = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      for (const c of draw(seed).chunks) if (c.pair === 0) facts.add(c.facts.join(" "));
    }
    expect(facts.size).toBeGreaterThan(3);
  });
});

describe("planted relevance: the gradient through W teaches the retriever", () => {
  // The demo's recipe at a size for the test suite: 24 pairs, B = 8, and 16 facts (the LM learns to
  // read the partner sooner from a smaller pool). With 200 steps per arm, seeds 2, 4, 5 and 6 reached
  // W→partner 0.96–1.00 and Recall@1 0.96–1.00; 300 steps leave a margin.
  const settings: PlantedSettings = {
    ...DEMO_SETTINGS,
    pairs: 24,
    batchPairs: 4,
    factPool: 16,
    heldOutBatches: 4,
    warmupSteps: 500,
    warmupGap: 1,
    steps: 300,
    evalEvery: 50,
    arms: ["retriever", "uniform"],
  };

  it("Revela finds the partner; with W frozen uniform the retriever stays where it started", async () => {
    const r = await runPlantedExperiment(settings);
    const [revela, uniform] = r.arms;
    if (!revela || !uniform) throw new Error("both arms should have run");
    const u = r.untrained;
    const line = (name: string, p: typeof u) =>
      `${name}: Recall@1 ${p.recallAt1.toFixed(3)}, W→partner ${p.partnerMass.toFixed(3)}, fact loss W ${p.factLossWithW.toFixed(3)} / oracle ${p.factLossOracle.toFixed(3)} / off ${p.factLossWithout.toFixed(3)}`;
    console.log([line("untrained", u), line("revela", revela.final), line("uniform W", uniform.final)].join("\n"));

    // The untrained retriever is far from the goal, so reaching it is the training's doing.
    expect(u.recallAt1).toBeLessThan(0.5);
    expect(u.partnerMass).toBeLessThan(0.5);

    expect(revela.final.partnerMass).toBeGreaterThanOrEqual(0.8);
    expect(revela.final.recallAt1).toBeGreaterThanOrEqual(0.9);
    // The LM predicts the partner-dependent tokens better with in-batch attention than without.
    expect(revela.final.factLossWithW).toBeLessThan(revela.final.factLossWithout);

    // Control: the LM there can read the partner (oracle W helps it) but W carries no gradient.
    expect(uniform.final.factLossOracle).toBeLessThan(uniform.final.factLossWithout);
    expect(uniform.final.recallAt1).toBeLessThanOrEqual(u.recallAt1 + 0.1);
    expect(uniform.final.partnerMass).toBeLessThanOrEqual(u.partnerMass + 0.1);
    // ~45 s of CPU; the limit only stops a hung run, never a slow machine (2 cores shared by 4 runs took 160 s).
  }, 900_000);
});
