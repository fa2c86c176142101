import { randomBytes } from "node:crypto";
import type { NatsConnection } from "@nats-io/nats-core";
import { afterAll, beforeAll } from "vitest";
import { Denials, type Wiring } from "../src/core/index.js";
import { type Connection, type ConnectOptions, connect, silentLogger } from "../src/index.js";
import { type NatsServer, startNats } from "../src/testing/index.js";

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** The stream size tests use (JetStream reserves it, on disk or in memory, for every namespace). */
export const TEST_STREAM_BYTES = 64 * 1024 * 1024;

/** A namespace no other test uses, so tests may share one server. */
export function uniqueNamespace(): string {
  return `t${randomBytes(6).toString("hex")}`;
}

/** Waits until `check` is true, polling; throws with `what` after `timeout` ms. */
export async function waitFor(what: string, check: () => boolean, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until the asynchronous `check` is true, polling; throws with `what` after `timeout` ms. */
export async function waitForAsync(what: string, check: () => Promise<boolean>, timeout = 10_000): Promise<void> {
  const deadline = performance.now() + timeout;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A promise with its resolve exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * One real server for the file (started in beforeAll, stopped in afterAll),
 * and a `connect` that gives each call its own namespace unless told and
 * closes every connection after the file.
 */
export function useNats(): {
  server: () => NatsServer;
  open: (namespace: string, options?: ConnectOptions) => Promise<Connection>;
} {
  let server: NatsServer | undefined;
  const opened: Connection[] = [];
  beforeAll(async () => {
    server = await startNats();
  });
  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close()));
    await server?.stop();
  });
  return {
    server: () => {
      if (!server) throw new Error("server not started");
      return server;
    },
    open: async (namespace, options = {}) => {
      if (!server) throw new Error("server not started");
      const conn = await connect({
        servers: server.url,
        namespace,
        logger: silentLogger,
        drainTimeout: 500,
        // each namespace makes a stream, and JetStream reserves its maxBytes on disk: keep them small
        topics: { maxBytes: TEST_STREAM_BYTES },
        ...options,
        tunnels: { maxBytes: TEST_STREAM_BYTES, ...options.tunnels },
      });
      opened.push(conn);
      return conn;
    },
  };
}

/** What a `Publisher` or other correlator needs of a connection's runtime, over a bare NATS connection. */
export function wiring(nc: NatsConnection): Wiring {
  return { nc, logger: silentLogger, inboxPrefix: undefined, denials: new Denials(nc, silentLogger) };
}
