/**
 * @revela/kernels/checks — the input checks the kernels use, for packages that build ops on them:
 * every message names the op, the argument and the shapes involved.
 */
export {
  formatShape,
  requireDtype,
  requirePositiveNumber,
  requireRank,
  requireShape,
  requireTensor,
} from "./ops/checkShapes.js";
