import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { type ConnectionOptions, credsAuthenticator, errors, type NatsConnection } from "@nats-io/nats-core";
import { connect as natsConnect } from "@nats-io/transport-node";
import type { Connection, ConnectOptions } from "../api/index.js";
import { ConnectionError, findCause, InvalidArgumentError } from "../errors/index.js";
import { resolveConnectOptions } from "./connect-options.js";
import { JetmeshConnection } from "./connection.js";

/**
 * Node's and OpenSSL's codes for a server certificate the client does not
 * trust, or that does not name the host: no retry makes it trusted.
 */
const UNTRUSTED_CERTIFICATE: ReadonlySet<string> = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_CHAIN_TOO_LONG",
  "INVALID_CA",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * OpenSSL's codes for the TLS alert of a server that refuses the client's
 * certificate, or its lack of one (mutual TLS): no retry brings one.
 */
const REFUSED_CLIENT_CERTIFICATE: ReadonlySet<string> = new Set([
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
  "ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
  "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED",
]);

/** The code in `err` or its causes that `codes` has, if any. */
function codeIn(err: unknown, codes: ReadonlySet<string>): string | undefined {
  const codeOf = (e: Error) => (e as { code?: unknown }).code;
  const found = findCause(err, (e) => {
    const code = codeOf(e);
    return typeof code === "string" && codes.has(code);
  });
  return found && (codeOf(found) as string);
}

/**
 * Sets whether `nc` reconnects (the client reads its options on each
 * disconnect). False when the client does not keep its options where this
 * looks: the connection is then closed and dialed again with them as given.
 */
function allowReconnect(nc: NatsConnection, reconnect: boolean): boolean {
  const options = (nc as { options?: { reconnect?: unknown } }).options;
  if (options === undefined || typeof options.reconnect !== "boolean") return false;
  options.reconnect = reconnect;
  return true;
}

/** Pause between attempts to reach a server during connect(). */
const RETRY_MS = 250;
/** The NATS client's own dial time-out, used for connect attempts and reconnects. */
const NATS_DIAL_TIMEOUT_MS = 20_000;

/**
 * Connects to NATS. Takes a server URL or {@link ConnectOptions}. Keeps trying
 * for `connectTimeout` ms (default 5 000) while no server answers, then
 * rejects with `ConnectionError`; a refused authentication, a server
 * certificate the client does not trust, or a client certificate (or its
 * lack) the server refuses, rejects at once (not retryable).
 * Once connected, it reconnects forever unless `maxReconnectAttempts` says
 * otherwise.
 *
 * @example
 * ```ts
 * import { connect } from "jetmesh";
 * await using conn = await connect("nats://127.0.0.1:4222");
 * const reply = await conn.request("echo", new TextEncoder().encode("hi"));
 * ```
 */
export async function connect(options?: string | ConnectOptions): Promise<Connection> {
  const o = resolveConnectOptions(options);
  const natsOptions = { ...o.nats };
  if (o.credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = await readFile(o.credsFile);
    } catch (cause) {
      throw new InvalidArgumentError(`options.credsFile ${JSON.stringify(o.credsFile)} cannot be read`, { cause });
    }
    natsOptions.authenticator = credsAuthenticator(creds);
  }
  await checkTlsFiles(natsOptions.tls);
  const nc = await dial(natsOptions, o.connectTimeout, o.signal);
  return new JetmeshConnection(nc, o, true);
}

/** The TLS files given must be readable: a missing one is the caller's mistake, not the network's. */
async function checkTlsFiles(tls: ConnectionOptions["tls"]): Promise<void> {
  if (tls === undefined || tls === null) return;
  for (const key of ["caFile", "certFile", "keyFile"] as const) {
    const file = tls[key];
    if (file === undefined) continue;
    try {
      await access(file, constants.R_OK);
    } catch (cause) {
      throw new InvalidArgumentError(`options.tls.${key} ${JSON.stringify(file)} cannot be read`, { cause });
    }
  }
}

/** Server URLs for messages, without any credentials they carry. */
function describeServers(servers: ConnectionOptions["servers"]): string {
  return [servers ?? []]
    .flat()
    .map((s) => s.replace(/\/\/[^@/]*@/, "//"))
    .join(", ");
}

/**
 * Dials until a server answers or `budget` ms pass. Each attempt keeps the
 * client's own dial time-out (also used for its later reconnects) and is
 * bounded here by the time left; a connection that arrives after the budget
 * is closed.
 */
async function dial(
  options: ConnectionOptions,
  budget: number,
  signal: AbortSignal | undefined,
): Promise<NatsConnection> {
  const deadline = performance.now() + budget;
  const servers = describeServers(options.servers);
  // Dialed with reconnecting off: with it on, the client takes a connection the server ends
  // during the handshake (a TLS alert: mutual TLS without a certificate it accepts) for a
  // disconnect, and the attempt only ends at its time-out. Turned back on once connected.
  const reconnect = options.reconnect ?? true;
  const dialOptions = {
    ...options,
    timeout: options.timeout ?? Math.min(budget, NATS_DIAL_TIMEOUT_MS),
    reconnect: false,
  };
  let last: unknown;
  for (;;) {
    signal?.throwIfAborted();
    const left = deadline - performance.now();
    if (left <= 0) {
      const why = last instanceof Error ? last.message : "no answer";
      throw new ConnectionError(`no NATS server reachable at ${servers} within ${budget} ms (${why})`, {
        cause: last,
      });
    }
    const attempt = natsConnect(dialOptions);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => resolveEarly(undefined);
    let resolveEarly: (v: undefined) => void = () => {};
    const outOfTime = new Promise<undefined>((resolve) => {
      resolveEarly = resolve;
      timer = setTimeout(resolve, left, undefined);
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const nc = await Promise.race([attempt, outOfTime]);
      if (nc && !signal?.aborted) {
        if (dialOptions.reconnect === reconnect || allowReconnect(nc, reconnect)) return nc;
        dialOptions.reconnect = reconnect;
        await nc.close().catch(() => {});
        continue;
      }
      if (nc) await nc.close().catch(() => {});
      else
        attempt.then(
          (late) => late.close().catch(() => {}),
          () => {},
        );
    } catch (cause) {
      if (cause instanceof errors.AuthorizationError || cause instanceof errors.UserAuthenticationExpiredError) {
        throw new ConnectionError(`authentication to ${servers} failed: ${cause.message}`, {
          cause,
          retryable: false,
        });
      }
      const why = cause instanceof Error ? cause.message : String(cause);
      const untrusted = codeIn(cause, UNTRUSTED_CERTIFICATE);
      if (untrusted !== undefined) {
        throw new ConnectionError(
          `TLS: the certificate of ${servers} is not trusted (${why}, ${untrusted}): ` +
            "give the CA that signed it as options.tls.caFile, and a certificate that names the host connected to",
          { cause, retryable: false },
        );
      }
      const refusedCert = codeIn(cause, REFUSED_CLIENT_CERTIFICATE);
      if (refusedCert !== undefined) {
        throw new ConnectionError(
          `TLS: ${servers} refused this client's certificate, or its lack of one (${refusedCert}): ` +
            "give a certificate signed by a CA the server trusts as options.tls.certFile and keyFile",
          { cause, retryable: false },
        );
      }
      last = cause;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(RETRY_MS, Math.max(0, deadline - performance.now()))),
      );
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}
