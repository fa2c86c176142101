/**
 * A TCP proxy between NATS clients and a server, for injecting faults: cut
 * every connection (and refuse new ones while "down"), stall them (stop
 * forwarding without closing), or slow them (latency, capped bandwidth).
 * Loopback only.
 */
import { createServer, type Server, Socket } from "node:net";

export interface SlowOptions {
  /** Added one-way latency per chunk, in ms. */
  latency?: number;
  /** Bytes per second in each direction. */
  bandwidth?: number;
}

export interface FaultProxy extends AsyncDisposable {
  /** `nats://127.0.0.1:<port>` of the proxy. */
  readonly url: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections open now. */
  readonly open: number;
  /** Cuts every open connection; new ones are still accepted. */
  cut(): void;
  /** Cuts every open connection and refuses new ones until {@link up}. */
  down(): void;
  /** Accepts connections again after {@link down}. */
  up(): void;
  /** Stops forwarding in both directions without closing anything, until {@link resume}. */
  stall(): void;
  /** Forwards again what stalled connections hold. */
  resume(): void;
  /** Adds latency and caps bandwidth from now on; `slow({})` goes back to full speed. */
  slow(options: SlowOptions): void;
  close(): Promise<void>;
}

/** One direction of one connection: chunks released in order, at the pace the proxy allows. */
class Pipe {
  readonly #queue: Array<{ chunk: Buffer; at: number }> = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextFree = 0;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly proxy: { stalled: boolean; slow: SlowOptions },
  ) {
    from.on("data", (chunk: Buffer) => this.#push(chunk));
  }

  #push(chunk: Buffer): void {
    const { latency = 0, bandwidth } = this.proxy.slow;
    const now = performance.now();
    let at = now + latency;
    if (bandwidth !== undefined) {
      const start = Math.max(now, this.#nextFree);
      this.#nextFree = start + (chunk.byteLength / bandwidth) * 1000;
      at = Math.max(at, this.#nextFree);
    }
    this.#queue.push({ chunk, at });
    // hold the sender back instead of buffering without bound
    if (this.#queue.length > 64) this.from.pause();
    this.flush();
  }

  flush(): void {
    if (this.#timer !== undefined) return;
    while (this.#queue.length > 0 && !this.proxy.stalled) {
      const head = this.#queue[0];
      if (head === undefined) break;
      const wait = head.at - performance.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.flush();
        }, wait);
        return;
      }
      this.#queue.shift();
      if (!this.to.destroyed) this.to.write(head.chunk);
    }
    if (this.#queue.length <= 16 && !this.proxy.stalled) this.from.resume();
    else if (this.proxy.stalled) this.from.pause();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }
}

/** Starts a proxy on a free loopback port forwarding to `target` (a `nats://host:port` URL). */
export async function startProxy(target: string): Promise<FaultProxy> {
  const { hostname, port: targetPort } = new URL(target);
  const state = { stalled: false, slow: {} as SlowOptions, refusing: false };
  const links = new Set<{ client: Socket; server: Socket; pipes: Pipe[] }>();
  let accepted = 0;

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    if (state.refusing) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = new Socket();
    upstream.pause();
    const link = { client, server: upstream, pipes: [] as Pipe[] };
    links.add(link);
    const end = () => {
      if (!links.delete(link)) return;
      for (const p of link.pipes) p.stop();
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    upstream.connect(Number(targetPort), hostname, () => {
      link.pipes.push(new Pipe(client, upstream, state), new Pipe(upstream, client, state));
      if (!state.stalled) {
        client.resume();
        upstream.resume();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  const port = address.port;

  const cutAll = () => {
    for (const link of [...links]) {
      link.client.destroy();
      link.server.destroy();
    }
  };
  const proxy: FaultProxy = {
    url: `nats://127.0.0.1:${port}`,
    port,
    get accepted() {
      return accepted;
    },
    get open() {
      return links.size;
    },
    cut: cutAll,
    down() {
      state.refusing = true;
      cutAll();
    },
    up() {
      state.refusing = false;
    },
    stall() {
      state.stalled = true;
      for (const link of links) {
        link.client.pause();
        link.server.pause();
      }
    },
    resume() {
      state.stalled = false;
      for (const link of links) for (const p of link.pipes) p.flush();
    },
    slow(options) {
      state.slow = { ...options };
    },
    async close() {
      state.refusing = true;
      cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    [Symbol.asyncDispose]() {
      return proxy.close();
    },
  };
  return proxy;
}
