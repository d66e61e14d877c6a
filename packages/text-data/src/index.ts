/**
 * @revela/text-data — what reading and indexing text needs on both sides of Revela.js, training
 * and evaluation, without any model code: lines streamed with invalid UTF-8 reported by line,
 * errors that name `file:line`, the English BM25 analyzer and one typed wink-bm25 engine, the
 * bounded top-k heap that ranks search results — and
 * directories written durably (synced, then renamed into place), as checkpoints and retrievers are.
 * This file is the package's whole public API.
 */
export { type Bm25Engine, type Bm25EngineConfig, createBm25Engine } from "./bm25Engine.js";
export { DataFormatError } from "./dataFormatError.js";
export { moveIntoPlace, syncPath, syncTree } from "./durableDirectory.js";
export { type AnalyzerOptions, ENGLISH_STOPWORDS, englishAnalyzer } from "./englishAnalyzer.js";
export { InvalidUtf8Lines, readLines, type TextLine } from "./readLines.js";
export { TopK } from "./topK.js";
