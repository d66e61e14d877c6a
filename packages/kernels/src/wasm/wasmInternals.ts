import type { DataId, DataType } from "@tensorflow/tfjs";

/**
 * The parts of tfjs-backend-wasm 4.22's `BackendWasm` that our kernels use. They are not public
 * API, which is why this package pins the exact tfjs version; everything reaching into the
 * backend goes through this file.
 */
export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: DataType;
  refCount: number;
}

export interface WasmModule {
  HEAPU8: Uint8Array;
  cwrap(name: string, returnType: null | "number", argTypes: string[]): (...args: unknown[]) => unknown;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

export interface BackendWasmInternals {
  wasm: WasmModule;
  dataIdNextNumber: number;
  dataIdMap: { get(dataId: DataId): WasmTensorData };
  makeOutput(shape: number[], dtype: DataType): { dataId: DataId; shape: number[]; dtype: DataType };
  disposeData(dataId: DataId, force?: boolean): boolean;
  typedArrayFromHeap(info: {
    shape: number[];
    dtype: DataType;
    dataId: DataId;
  }): Float32Array | Int32Array | Uint8Array;
}

export interface TensorInfoLike {
  dataId: DataId;
  shape: number[];
  dtype: DataType;
}

/**
 * A tensor id registered with the C++ side that points into memory owned by another tensor — a
 * zero-copy slice. The caller must `release()` it; that also drops any XNNPACK operator the C++
 * side cached for the id (it keys its cache on tensor ids).
 */
export interface HeapView {
  id: number;
  release(): void;
}

export function registerHeapView(backend: BackendWasmInternals, byteOffset: number, size: number): HeapView {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, byteOffset);
  return { id, release: () => backend.wasm.tfjs.disposeData(id) };
}
