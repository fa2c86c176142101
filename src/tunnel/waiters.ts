/** Calls waiting on a tunnel end (for a message, for credit), each with its own time-out and signal. */

export interface Waiter<T> {
  resolve(v: T): void;
  reject(err: unknown): void;
  cleanup(): void;
}

/**
 * Adds a waiter to `list` and returns its promise: it rejects `timedOut()`
 * after `timeout` ms (0: never) and the signal's reason on abort, and leaves
 * the list once settled.
 */
export function wait<T>(
  list: Array<Waiter<T>>,
  timeout: number,
  signal: AbortSignal | undefined,
  timedOut: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = timeout > 0 ? setTimeout(() => w.reject(timedOut()), timeout) : undefined;
    const onAbort = () => w.reject(signal?.reason);
    const w: Waiter<T> = {
      resolve: (v) => {
        w.cleanup();
        resolve(v);
      },
      reject: (err) => {
        w.cleanup();
        reject(err);
      },
      cleanup: () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
      },
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    list.push(w);
  });
}
