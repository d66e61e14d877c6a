/**
 * The native TensorFlow backends are optional peer dependencies: they download libtensorflow at
 * install time, which many machines cannot do. They are imported only when asked for or probed.
 */
export const NATIVE_PACKAGES = {
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
  tensorflow: "@tensorflow/tfjs-node",
} as const;

export type NativeBackendName = keyof typeof NATIVE_PACKAGES;

/** Imports the package for `name`; resolves to an error message when it is not usable. */
export async function loadNativeBackend(name: NativeBackendName): Promise<string | null> {
  const pkg = NATIVE_PACKAGES[name];
  try {
    // A variable specifier keeps bundlers from trying to resolve the optional package.
    const specifier: string = pkg;
    await import(specifier);
    return null;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return `${pkg} could not be loaded (${reason}). Install it next to @revela/kernels with \`npm install ${pkg}@4.22.0\` (its install script downloads libtensorflow${name === "tensorflow-gpu" ? " and needs CUDA" : ""}).`;
  }
}
