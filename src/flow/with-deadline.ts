/** Waits for `work` at most `ms` ms; true when it settled in time. Never rejects. */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false);
  });
  const done = work.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Settles as `work` does, unless `timeout` ms pass first (rejects with
 * `timedOut()`) or `signal` aborts (rejects with its reason, as fetch does).
 * Work that completes after that is handed to `undo`, so that nothing it made
 * is left behind; a late failure is dropped.
 */
export function withDeadline<T>(
  work: Promise<T>,
  timeout: number,
  signal: AbortSignal | undefined,
  timedOut: () => Error,
  undo?: (value: T) => void,
): Promise<T> {
  if (signal?.aborted || timeout < 1) {
    work.then(undo, () => {});
    return Promise.reject(signal?.aborted ? signal.reason : timedOut());
  }
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = () => {
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const giveUp = (err: unknown) => {
      if (done) return;
      finish();
      reject(err);
    };
    const onAbort = () => giveUp(signal?.reason);
    const timer = setTimeout(() => giveUp(timedOut()), timeout);
    signal?.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        if (done) {
          undo?.(value);
          return;
        }
        finish();
        resolve(value);
      },
      (err: unknown) => {
        if (done) return;
        finish();
        reject(err);
      },
    );
  });
}
