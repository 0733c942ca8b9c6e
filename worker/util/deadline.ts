/**
 * The work's result, or a rejection once `ms` have passed without one. The work itself is not
 * cancelled (a binding call cannot be); the caller just stops waiting for it, so an answer never
 * hangs on a store that does not answer.
 */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`store deadline of ${ms} ms passed`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => timer !== undefined && clearTimeout(timer));
}
