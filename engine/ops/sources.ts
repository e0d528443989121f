import { defineOps } from '../ir/registry';
import type { Shape } from '../ir/shape';

/**
 * Sources: data fed each step (`input`, labels included), trainable or state tensors (`param`), constants, and
 * tensors shaped like another that carry no gradient (`full_like`, `one_hot`, `dropout_mask`).
 */
defineOps([
  { name: 'input', arity: 0, shape: (_i, a) => a.shape as Shape },
  { name: 'param', arity: 0, shape: (_i, a) => a.shape as Shape },
  { name: 'const', arity: 0, shape: (_i, a) => a.shape as Shape },
  { name: 'full_like', arity: 1, shape: ([x]) => x },
  { name: 'one_hot', arity: 1, shape: ([x], a) => [...x, a.classes as number] },
  // Inverted dropout: 0 with probability `rate`, else 1 / (1 - rate), drawn from the seed, the step and `stream`.
  { name: 'dropout_mask', arity: 1, shape: ([x]) => x },
]);
