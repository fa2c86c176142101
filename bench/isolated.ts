/**
 * One measurement of a closed-loop variant (variants.ts) in a process of its
 * own: `measureIsolated` forks this file, which connects, runs the loop,
 * answers its Sample and exits. The peer's CPU time (the responder's) is read
 * through the parent, which holds the peer.
 *
 * argv (child): url, variant name, JSON {@link IsolatedArgs}.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { closedLoop, type Peer, type Sample } from "./lib.js";
import { VARIANTS, type VariantArgs } from "./variants.js";

export interface IsolatedArgs extends VariantArgs {
  inflight: number;
  windowMs: number;
  warmupMs: number;
  latency: boolean;
}

type FromChild = { sample: Sample } | { error: string } | { id: number; cmd: string };

/** Runs variant `name` in a new process; resolves with its Sample (CPU of `peer` too, when given). */
export function measureIsolated(url: string, name: string, args: IsolatedArgs, peer?: Peer): Promise<Sample> {
  const child = fork(fileURLToPath(import.meta.url), [url, name, JSON.stringify(args)], { stdio: "inherit" });
  return new Promise<Sample>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name}: no result within 120 s`));
    }, 120_000);
    child.on("message", (m: FromChild) => {
      if ("sample" in m) {
        clearTimeout(timer);
        resolve(m.sample);
      } else if ("error" in m) {
        clearTimeout(timer);
        reject(new Error(`${name}: ${m.error}`));
      } else {
        // the child asks about the peer
        const answer = peer ? peer.call(m.cmd) : Promise.resolve(0);
        answer.then(
          (value) => child.send({ id: m.id, value }),
          (err: unknown) => child.send({ id: m.id, value: 0, error: String(err) }),
        );
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name}: measuring process exited with ${code}`));
    });
  });
}

/** The peer as the child sees it: each call goes to the parent. */
class ParentPeer implements Peer {
  #next = 0;
  readonly #waiting = new Map<number, (value: unknown) => void>();

  constructor() {
    process.on("message", (m: { id: number; value: unknown }) => {
      this.#waiting.get(m.id)?.(m.value);
      this.#waiting.delete(m.id);
    });
  }

  call<T>(cmd: string): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve) => {
      this.#waiting.set(id, (v) => resolve(v as T));
      process.send?.({ id, cmd });
    });
  }
}

async function child(): Promise<void> {
  const [url = "", name = "", json = "{}"] = process.argv.slice(2);
  const args = JSON.parse(json) as IsolatedArgs;
  const make = VARIANTS[name];
  if (!make) throw new Error(`no variant named ${name}`);
  const variant = await make(url, args);
  try {
    const sample = await closedLoop(
      variant.op,
      args.inflight,
      args.windowMs,
      args.warmupMs,
      args.latency,
      new ParentPeer(),
    );
    await new Promise((sent) => process.send?.({ sample }, undefined, {}, sent));
  } finally {
    await variant.close();
  }
}

if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  child().then(
    () => process.exit(0),
    (err: unknown) => {
      const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.send?.({ error }, undefined, {}, () => process.exit(1));
    },
  );
}
