import * as tf from "@tensorflow/tfjs";

/*
 * Parameters kept in JavaScript memory between uses: their data in tfjs's cpu backend while wasm
 * computes — the LoRA adapters of a model with offloaded layers (@revela/language-model's
 * `CausalLM.adaptersInJsMemory`, `moveToJsMemory`). An assign puts a variable's new value in the
 * active backend's heap; whoever assigns such a parameter (AdamW's update, a checkpoint's resume)
 * moves each back right after, so that the heap holds one parameter's new value at a time.
 */

interface EngineDataInternals {
  state: {
    tensorInfo: {
      get(dataId: object): { backend: tf.KernelBackend; shape: number[]; dtype: tf.DataType } | undefined;
    };
  };
  backend: tf.KernelBackend;
  backendName: string;
  findBackend(name: string): tf.KernelBackend | null;
  moveData(backend: tf.KernelBackend, dataId: object): void;
}

interface MovableBackend {
  move(dataId: object, values: unknown, shape: number[], dtype: tf.DataType, refCount: number): void;
  readSync(dataId: object): unknown;
  refCount(dataId: object): number;
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * Moves a parameter kept in JavaScript memory into the active backend's heap, allocating there
 * before freeing the JavaScript copy: on a full wasm heap the allocation throws
 * (@revela/kernels' WasmHeapExhaustedError) and the parameter keeps its values where they were.
 * tfjs 4.22's engine.moveData, which a kernel reading it would use, frees the source first and
 * would lose them.
 */
export function bringIntoHeap(param: tf.Tensor): void {
  const engine = tf.engine() as unknown as EngineDataInternals;
  const info = engine.state.tensorInfo.get(param.dataId);
  if (!info || info.backend === engine.backend) return;
  const source = info.backend as unknown as MovableBackend;
  const values = source.readSync(param.dataId);
  const refCount = source.refCount(param.dataId);
  (engine.backend as unknown as MovableBackend).move(param.dataId, values, info.shape, info.dtype, refCount);
  source.disposeData(param.dataId, true);
  info.backend = engine.backend;
}

/**
 * Whether `param` is kept in JavaScript memory between uses: its data in tfjs's cpu backend while
 * wasm computes (as @revela/language-model's `canKeepInJsMemory` and `isInJsMemory`). Read before
 * any kernel reads it: that moves it into the active backend. Data in any other backend than the
 * active one (e.g. left in wasm after a switch to cpu) is not kept there on purpose.
 */
export function keptInJsMemory(param: tf.Tensor): boolean {
  const engine = tf.engine() as unknown as EngineDataInternals;
  if (engine.backendName !== "wasm") return false;
  const cpu = engine.findBackend("cpu");
  return cpu !== null && engine.state.tensorInfo.get(param.dataId)?.backend === cpu;
}

/**
 * Moves `t`'s data to JavaScript memory (tfjs's cpu backend) from the active backend, where an
 * assign just put it: for a variable kept there (keptInJsMemory read before the assign).
 */
export function moveBackToJsMemory(t: tf.Tensor): void {
  const engine = tf.engine() as unknown as EngineDataInternals;
  const cpu = engine.findBackend("cpu");
  if (cpu === null) throw new Error("moveBackToJsMemory: tfjs's cpu backend is not registered");
  if (engine.state.tensorInfo.get(t.dataId)?.backend !== cpu) engine.moveData(cpu, t.dataId);
}
