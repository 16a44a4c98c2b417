// Loading a rarely used dependency on its first use: code reached only through import() goes to a chunk
// of its own in the bundle (lib/api/lambda-bundle.ts), so a cold start never pays for it.

/**
 * Returns a loader that runs `load` once and shares its result with every caller. A failed load is not
 * kept: the next call tries again, so one bad moment does not disable the dependency until recycle.
 */
export function lazyLoad<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}
