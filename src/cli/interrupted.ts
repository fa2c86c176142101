/** The signal that a long-running command (dev, subscribe) should stop. */

const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Resolves on the first Ctrl-C, SIGTERM or SIGHUP (the terminal closed). */
export function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      for (const s of STOP_SIGNALS) process.off(s, stop);
      resolve();
    };
    for (const s of STOP_SIGNALS) process.on(s, stop);
  });
}
