/** Svelte options for vite-plugin-svelte and svelte-check. TypeScript in components is type-annotation only, which
 * Svelte 5 compiles natively, so no preprocessor is needed. */
export default {
  compilerOptions: {},
};
