// wink-bm25-text-search 3.1.2 ships CommonJS without types; Bm25Engine (bm25Engine.ts) types what it returns.
declare module "wink-bm25-text-search" {
  function bm25(): unknown;
  export = bm25;
}
