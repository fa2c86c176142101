import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { type ConnectionOptions, credsAuthenticator, errors, type NatsConnection } from "@nats-io/nats-core";
import { connect as natsConnect } from "@nats-io/transport-node";
import type { Connection, ConnectOptions } from "../api/index.js";
import { ConnectionError, InvalidArgumentError } from "../errors/index.js";
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

/** The code of an untrusted server certificate in `err` or its causes, if that is what it is. */
function untrustedCertificate(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && UNTRUSTED_CERTIFICATE.has(code)) return code;
  }
  return undefined;
}

/** Pause between attempts to reach a server during connect(). */
const RETRY_MS = 250;
/** The NATS client's own dial time-out, used for connect attempts and reconnects. */
const NATS_DIAL_TIMEOUT_MS = 20_000;

/**
 * Connects to NATS. Takes a server URL or {@link ConnectOptions}. Keeps trying
 * for `connectTimeout` ms (default 5 000) while no server answers, then
 * rejects with `ConnectionError`; a refused authentication, or a server
 * certificate the client does not trust, rejects at once (not retryable).
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
  const dialOptions = { ...options, timeout: options.timeout ?? Math.min(budget, NATS_DIAL_TIMEOUT_MS) };
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
      if (nc && !signal?.aborted) return nc;
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
      const untrusted = untrustedCertificate(cause);
      if (untrusted !== undefined) {
        const why = cause instanceof Error ? cause.message : String(cause);
        throw new ConnectionError(
          `TLS: the certificate of ${servers} is not trusted (${why}, ${untrusted}): ` +
            "give the CA that signed it as options.tls.caFile, and a certificate that names the host connected to",
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
