/**
 * @revela/retriever — a dense retriever on a LLaMA-family backbone for TensorFlow.js: pooling,
 * batched encoding, exact and approximate top-k search, and retriever directories.
 * This file is the package's whole public API.
 */
export {
  DenseEncoder,
  type EncodedMatrix,
  type EncodeOptions,
  type TokenizerLike,
} from "./encoder/denseEncoder.js";
export { DEFAULT_ENCODER_OPTIONS, type EncoderOptions, resolveEncoderOptions } from "./encoder/encoderOptions.js";
export { POOLINGS, type Pooling, pool } from "./encoder/pooling.js";
export type { EmbeddingMatrix } from "./matrix/embeddingMatrix.js";
export {
  type CreateRetrieverOptions,
  Retriever,
  type RetrieverParts,
  type TextEncodeOptions,
} from "./retriever/retriever.js";
export {
  parseRetrieverConfig,
  RETRIEVER_CONFIG_FILE,
  RETRIEVER_FORMAT,
  RETRIEVER_FORMAT_VERSION,
  type RetrieverConfig,
} from "./retriever/retrieverConfig.js";
export {
  ADAPTER_SUBDIR,
  loadRetriever,
  type RetrieverSources,
  saveRetriever,
} from "./retriever/retrieverDirectory.js";
export {
  EMBEDDINGS_VERSION,
  EmbeddingsReader,
  EmbeddingsWriter,
  loadEmbeddings,
  saveEmbeddings,
} from "./search/embeddingsFile.js";
export { ExactIndex, type ExactIndexOptions } from "./search/exactIndex.js";
export type { SearchIndex, SearchResult } from "./search/searchIndex.js";
export { USEARCH_IDS_FORMAT, UsearchIndex, type UsearchIndexOptions } from "./search/usearchIndex.js";
