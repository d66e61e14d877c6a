import { type Batch, type Chunk, SeededRandom } from "@revela/trainer";

/**
 * A generated corpus in which relevance is known: P pairs of chunks. Both chunks of pair k name the
 * same made-up entity near their start (so that both retriever views — the query view is the first
 * half of a chunk — contain it) and list the same made-up facts in their second half, each list
 * shuffled on its own. Every other pair in a batch is a distractor on other entities.
 *
 * A pair's facts are drawn afresh every time the pair is sampled, independently of the other pairs
 * (so a distractor's facts say nothing about a chunk's own), and so are the filler words: the facts
 * can never be memorised by the LM's weights nor guessed from the chunk itself — only copied from the
 * partner. The entity names stay fixed: they are what the retriever can learn to match.
 */

/** Word-level vocabulary: fixed ids, no merges; the corpus is generated from these words only. */
export class PlantedTokenizer {
  readonly padTokenId = 0;
  readonly eosTokenId = 1;
  readonly unkTokenId = 2;
  readonly bosTokenId = 3;
  private readonly ids = new Map<string, number>();
  private readonly words: string[] = ["<pad>", "<eos>", "<unk>", "<bos>"];

  constructor(words: readonly string[]) {
    for (const w of words) {
      if (this.ids.has(w)) continue;
      this.ids.set(w, this.words.length);
      this.words.push(w);
    }
  }

  get vocabSize(): number {
    return this.words.length;
  }

  /** Ids of a text's words, no special tokens. "query:" and "passage:" are words of their own. */
  encode(text: string): number[] {
    return text
      .toLowerCase()
      .split(/[^a-z0-9:]+/)
      .filter(Boolean)
      .map((w) => this.ids.get(w) ?? this.unkTokenId);
  }

  idOf(word: string): number {
    const id = this.ids.get(word);
    if (id === undefined) throw new Error(`PlantedTokenizer: "${word}" is not in the vocabulary`);
    return id;
  }

  wordOf(id: number): string {
    return this.words[id] ?? "<unk>";
  }
}

/** A chunk with its pair: `docId` is the pair, so "same document" in W's statistics means "partner". */
export interface PlantedChunk extends Chunk {
  pair: number;
  /** 0: the chunk that introduces the facts; 1: the chunk that repeats them. */
  side: 0 | 1;
  entity: string;
  facts: string[];
}

/** A Batch whose chunks carry their pair. */
export interface PlantedBatch extends Batch {
  chunks: PlantedChunk[];
}

export interface PlantedCorpusOptions {
  /** Number of partner pairs (the corpus has twice as many chunks). */
  pairs: number;
  seed: number;
  /** Made-up fact words a pair's facts are drawn from. Default 64. */
  factPool?: number;
  /** Filler words (unpredictable noise in every chunk). Default 24. */
  fillerPool?: number;
  /** Facts a pair states (both chunks list all of them, twice). Default 2. */
  factsPerPair?: number;
}

// {E}: the pair's entity, mentioned early (inside the query view) and again later; {F}: the pair's
// facts, listed twice — first in the second half (outside the query view: predictable only from the
// partner), then again reshuffled (predictable from the chunk itself); {X}: a fresh filler word.
// The repeats are what makes the in-batch term learnable: the LM reads other chunks with the same
// weights as its own context, so it has to learn in its own context that a rare name once seen comes
// again (as in real text). With names that never repeat inside a chunk, a from-scratch LM needed ~800
// oracle-W steps to start reading the partner (see README).
const INTRO_TEMPLATES = [
  "in {X} cells the {E} protein binds {F} and {E} binds {F}",
  "the {E} enzyme from {X} samples cuts {F} so {E} cuts {F}",
];
const REPEAT_TEMPLATES = [
  "{E} was seen in {X} tissue and holds {F} as {E} holds {F}",
  "later on the {E} was again bound to {F} and {E} bound to {F}",
];

const ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"];
const NUCLEI = ["a", "e", "i", "o", "u"];
const CODAS = ["", "", "n", "r", "x", "l", "s"];

/** Seeded made-up words of 2–3 syllables, unique and not colliding with `taken`. */
function madeUpWords(count: number, rng: SeededRandom, taken: Set<string>): string[] {
  const out: string[] = [];
  const pick = <T>(xs: readonly T[]) => xs[rng.int(xs.length)] as T;
  for (let tries = 0; out.length < count; tries++) {
    if (tries > count * 1000) throw new Error(`plantedCorpus: could not make ${count} distinct words`);
    const syllables = 2 + rng.int(2);
    let w = "";
    for (let s = 0; s < syllables; s++) w += pick(ONSETS) + pick(NUCLEI) + (s === syllables - 1 ? pick(CODAS) : "");
    if (taken.has(w)) continue;
    taken.add(w);
    out.push(w);
  }
  return out;
}

const templateWords = (templates: readonly string[]) =>
  templates.flatMap((t) => t.split(" ").filter((w) => !w.startsWith("{")));

export class PlantedCorpus {
  readonly pairs: number;
  readonly entities: readonly string[];
  readonly facts: readonly string[];
  readonly fillers: readonly string[];
  readonly tokenizer: PlantedTokenizer;
  readonly seed: number;
  readonly factsPerPair: number;

  constructor(options: PlantedCorpusOptions) {
    const { pairs, seed } = options;
    const factPool = options.factPool ?? 64;
    const fillerPool = options.fillerPool ?? 24;
    const factsPerPair = options.factsPerPair ?? 2;
    if (!Number.isInteger(pairs) || pairs < 2)
      throw new Error(`PlantedCorpus: pairs must be an integer ≥ 2, got ${pairs}`);
    if (!Number.isInteger(factPool) || factPool < 2)
      throw new Error(`PlantedCorpus: factPool must be an integer ≥ 2, got ${factPool}`);
    if (!Number.isInteger(fillerPool) || fillerPool < 1)
      throw new Error(`PlantedCorpus: fillerPool must be an integer ≥ 1, got ${fillerPool}`);
    if (!Number.isInteger(factsPerPair) || factsPerPair < 1 || factsPerPair > factPool)
      throw new Error(`PlantedCorpus: factsPerPair must be an integer in [1, factPool], got ${factsPerPair}`);
    this.pairs = pairs;
    this.seed = seed;
    this.factsPerPair = factsPerPair;
    const rng = SeededRandom.fromSeed(`planted-vocabulary-${seed}`);
    const fixed = [...new Set([...templateWords(INTRO_TEMPLATES), ...templateWords(REPEAT_TEMPLATES)])];
    const taken = new Set<string>([...fixed, "query:", "passage:"]);
    this.entities = madeUpWords(pairs, rng, taken);
    this.facts = madeUpWords(factPool, rng, taken);
    this.fillers = madeUpWords(fillerPool, rng, taken);
    this.tokenizer = new PlantedTokenizer([
      "query:",
      "passage:",
      ...fixed,
      ...this.entities,
      ...this.facts,
      ...this.fillers,
    ]);
  }

  /** Token ids of the fact words: the partner-dependent tokens. */
  factIds(): Set<number> {
    return new Set(this.facts.map((f) => this.tokenizer.idOf(f)));
  }

  /** Pair of each entity's token id (to build oracle document weights). */
  entityPairs(): Map<number, number> {
    return new Map(this.entities.map((e, k) => [this.tokenizer.idOf(e), k]));
  }

  /**
   * Both chunks of each listed pair, with fresh facts and fillers, in shuffled order (so a chunk's
   * partner is never at a fixed offset).
   */
  chunksOf(pairIds: readonly number[], rng: SeededRandom): PlantedChunk[] {
    const chunks: PlantedChunk[] = [];
    for (const k of pairIds) {
      if (!Number.isInteger(k) || k < 0 || k >= this.pairs) throw new Error(`PlantedCorpus: no pair ${k}`);
      const entity = this.entities[k] as string;
      const facts = rng.shuffle([...this.facts]).slice(0, this.factsPerPair);
      for (const side of [0, 1] as const) {
        const templates = side === 0 ? INTRO_TEMPLATES : REPEAT_TEMPLATES;
        const template = templates[rng.int(templates.length)] as string;
        const text = template
          .replaceAll("{E}", entity)
          .replace("{F}", rng.shuffle([...facts]).join(" "))
          .replace("{F}", rng.shuffle([...facts]).join(" "))
          .replace("{X}", this.fillers[rng.int(this.fillers.length)] as string);
        chunks.push({ id: `p${k}#${side}`, docId: `p${k}`, index: side, text, pair: k, side, entity, facts });
      }
    }
    return rng.shuffle(chunks);
  }

  /** A batch of `pairsPerBatch` distinct pairs drawn at random: every chunk's partner is in it. */
  sampleBatch(pairsPerBatch: number, rng: SeededRandom, index = 0): PlantedBatch {
    if (!Number.isInteger(pairsPerBatch) || pairsPerBatch < 2 || pairsPerBatch > this.pairs)
      throw new Error(`PlantedCorpus: pairsPerBatch must be an integer in [2, ${this.pairs}], got ${pairsPerBatch}`);
    const pairIds = rng.shuffle([...Array(this.pairs).keys()]).slice(0, pairsPerBatch);
    return { chunks: this.chunksOf(pairIds, rng), epoch: 0, index };
  }

  /** The whole corpus, one fixed text per chunk (facts and fillers drawn once from the seed), by pair. */
  allChunks(): PlantedChunk[] {
    const rng = SeededRandom.fromSeed(`planted-corpus-${this.seed}`);
    return this.chunksOf([...Array(this.pairs).keys()], rng).sort((a, b) => a.pair - b.pair || a.side - b.side);
  }
}
