/** A connection made from the server options, open for the length of one command. */
import type { Connection, ConnectOptions } from "../api/index.js";
import { connect } from "../client/index.js";
import type { ServerFlags } from "./server-options.js";

async function open(flags: ServerFlags, extra: Pick<ConnectOptions, "logger">): Promise<Connection> {
  // several servers (a cluster) are given comma-separated, as the nats command takes them
  const servers = (flags.server ?? "nats://127.0.0.1:4222").split(",").map((s) => s.trim());
  const o: ConnectOptions = {
    servers: servers.length === 1 ? (servers[0] as string) : servers,
    name: "jetmesh-cli",
    ...extra,
  };
  if (flags.namespace !== undefined) o.namespace = flags.namespace;
  if (flags.user !== undefined) o.user = flags.user;
  if (flags.password !== undefined) o.pass = flags.password;
  if (flags.token !== undefined) o.token = flags.token;
  if (flags.creds !== undefined) o.credsFile = flags.creds;
  if (flags.tlsCa !== undefined || flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    o.tls = {
      ...(flags.tlsCa === undefined ? {} : { caFile: flags.tlsCa }),
      ...(flags.tlsCert === undefined ? {} : { certFile: flags.tlsCert }),
      ...(flags.tlsKey === undefined ? {} : { keyFile: flags.tlsKey }),
    };
  }
  if (flags.timeout !== undefined) o.timeout = flags.timeout;
  if (flags.connectTimeout !== undefined) o.connectTimeout = flags.connectTimeout;
  return connect(o);
}

/** Runs `fn` with a connection, closed afterwards; `extra` are connect options of the command's own. */
export async function withConnection<T>(
  flags: ServerFlags,
  fn: (conn: Connection) => Promise<T>,
  extra: Pick<ConnectOptions, "logger"> = {},
): Promise<T> {
  const conn = await open(flags, extra);
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}
