/**
 * Bounds one step of a multi-step operation (tunnel set-up) by the
 * operation's deadline and signal: the step's own time-outs (JetStream's
 * 5 s, a request's) are not the caller's.
 */

/**
 * Resolves as `work` does, unless `deadline` (a `performance.now()` time)
 * passes first (rejects `timedOut()`) or `signal` aborts (rejects its
 * reason). `work` goes on in the background; its outcome is then ignored.
 */
export function beforeDeadline<T>(
  work: Promise<T>,
  deadline: number,
  signal: AbortSignal | undefined,
  timedOut: () => Error,
): Promise<T> {
  if (signal?.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  const left = deadline - performance.now();
  if (left < 1) {
    work.catch(() => {});
    return Promise.reject(timedOut());
  }
  return new Promise<T>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      done();
      reject(timedOut());
    }, left);
    signal?.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        done();
        resolve(v);
      },
      (err: unknown) => {
        done();
        reject(err);
      },
    );
  });
}
