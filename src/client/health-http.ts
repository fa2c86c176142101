/**
 * serveHealth(): a small HTTP readiness endpoint (node:http) for orchestrators.
 * Ready means: the connection (when given) is open and linked to a server
 * (not closed, not between a disconnect and the reconnect), and every service
 * given is still a member (not unregistered, not dropped). It never keeps the
 * process alive by itself, and it answers from state it already holds: no
 * round trip per probe.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Connection, Service } from "../api/index.js";
import { validateOptions } from "../config/index.js";
import { InvalidArgumentError } from "../errors/index.js";

/** Options of {@link serveHealth}. `port` and at least one of `connection` and `services` are required. */
export interface HealthOptions {
  /** The connection whose link to NATS is checked (closed, or reconnecting, is not ready). */
  connection?: Connection;
  /** Services that must still be members (each one unregistered or dropped is not ready). */
  services?: readonly Service[];
  /** TCP port to listen on; 0 picks a free one (see `HealthServer.port`). */
  port: number;
  /** Address to listen on. Default: every interface (what a Kubernetes `httpGet` probe needs). */
  host?: string;
  /** The path that answers. Default `/healthz`; others get 404. */
  path?: string;
}

/** What the endpoint answers, as JSON (200 when `ready`, 503 otherwise). */
export interface HealthReport {
  ready: boolean;
  /** The connection's state, when one was given. */
  connection?: "connected" | "reconnecting" | "closed";
  /** Each service given, and whether it is still a member. */
  services: { cluster: string; id: string; live: boolean }[];
}

/** The endpoint of {@link serveHealth}. */
export interface HealthServer extends AsyncDisposable {
  /** The URL that answers, such as `http://127.0.0.1:8080/healthz`. */
  readonly url: string;
  /** The port listened on (the one picked, when given 0). */
  readonly port: number;
  /** The report the endpoint would answer now. */
  report(): HealthReport;
  /** Stops answering (a probe then fails to connect). Idempotent. */
  close(): Promise<void>;
}

const KEYS = ["connection", "services", "port", "host", "path"] as const;

/**
 * Serves a readiness endpoint over HTTP: `GET` (or `HEAD`) on `path` answers
 * 200 with a {@link HealthReport} as JSON while the connection is linked to
 * a server and every service is a member, 503 otherwise. Meant for a
 * readiness probe, not a liveness one: a NATS outage makes every member
 * unready at once, and restarting them would not help. The server does not
 * keep the process alive, and closes each HTTP connection after its answer.
 *
 * @example
 * ```ts
 * const conn = await connect(url);
 * const svc = await conn.register("echo", { handleRequest: (req) => req });
 * const health = await serveHealth({ connection: conn, services: [svc], port: 8080 });
 * closeOnSignal([health, conn]); // on SIGTERM, stop answering first, then drain
 * ```
 */
export async function serveHealth(options: HealthOptions): Promise<HealthServer> {
  const o = validateOptions<HealthOptions>("options", options, KEYS);
  const conn = o.connection;
  if (conn !== undefined && (typeof conn !== "object" || conn === null || !("closed" in conn) || !("nats" in conn))) {
    throw new InvalidArgumentError("options.connection must be a Connection");
  }
  const services = o.services ?? [];
  if (!Array.isArray(services) || services.some((s) => typeof s !== "object" || s === null || !("closed" in s))) {
    throw new InvalidArgumentError("options.services must be a list of Services");
  }
  if (conn === undefined && services.length === 0) {
    throw new InvalidArgumentError("options must give a connection or at least one service to check");
  }
  if (typeof o.port !== "number" || !Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    throw new InvalidArgumentError(`options.port must be an integer from 0 to 65535, got ${String(o.port)}`);
  }
  if (o.host !== undefined && typeof o.host !== "string") {
    throw new InvalidArgumentError(`options.host must be a string, got ${String(o.host)}`);
  }
  const path = o.path ?? "/healthz";
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new InvalidArgumentError(`options.path must start with "/", got ${String(path)}`);
  }

  const link = conn === undefined ? undefined : watchLink(conn);
  const ended = new Set<Service>();
  for (const svc of services) void svc.closed.then(() => ended.add(svc));
  const report = (): HealthReport => {
    const list = services.map((s) => ({ cluster: s.cluster, id: s.id, live: !ended.has(s) }));
    const state = link?.state();
    return {
      ready: (state === undefined || state === "connected") && list.every((s) => s.live),
      ...(state === undefined ? {} : { connection: state }),
      services: list,
    };
  };

  const server = createServer((req, res) => answer(req, res, path, report));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  const host = o.host ?? "127.0.0.1";
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}${path}`;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      link?.stop();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };
  return { url, port, report, close, [Symbol.asyncDispose]: close };
}

function answer(req: IncomingMessage, res: ServerResponse, path: string, report: () => HealthReport): void {
  res.setHeader("Connection", "close");
  const at = (req.url ?? "/").split("?")[0];
  if (at !== path) {
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
    return;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain" }).end("method not allowed\n");
    return;
  }
  const r = report();
  const body = `${JSON.stringify(r)}\n`;
  res.writeHead(r.ready ? 200 : 503, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/** Follows the connection's link: down from a disconnect until the reconnect, and for good once closed. */
function watchLink(conn: Connection): { state(): "connected" | "reconnecting" | "closed"; stop(): void } {
  let closed = false;
  let linked = !conn.nats.isClosed() && conn.nats.info !== undefined;
  let stopped = false;
  void conn.closed.then(() => {
    closed = true;
  });
  void (async () => {
    try {
      for await (const s of conn.status()) {
        if (stopped) return;
        if (s.type === "disconnect") linked = false;
        else if (s.type === "reconnect") linked = true;
      }
    } catch {
      // status() of a connection already closing: `closed` says so
    }
  })();
  return {
    state: () =>
      closed || conn.nats.isClosed() || conn.nats.isDraining() ? "closed" : linked ? "connected" : "reconnecting",
    stop: () => {
      stopped = true;
    },
  };
}
