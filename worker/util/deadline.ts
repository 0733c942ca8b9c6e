/**
 * The work's result, or a rejection once `ms` have passed without one. The work itself is not
 * cancelled (a binding call cannot be); the caller just stops waiting for it, so an answer never
 * hangs on a store that does not answer.
 */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  // One promise and one timer: this wraps every KV read on the verify path.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`store deadline of ${ms} ms passed`)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
