/** A running NATS server for tests, from {@link startNats}. */
export interface NatsServer extends AsyncDisposable {
  /** The URL to connect to. */
  readonly url: string;
  /** Where it came from: `NATS_URL`, a Docker container, or a local `nats-server` process. */
  readonly kind: "env" | "docker" | "binary";
  /** Stops the server and removes its store (nothing for `env`). Idempotent. */
  stop(): Promise<void>;
  /** Resolves when the server process ends, by `stop()` or on its own (binary only; never for `env` and `docker`). */
  readonly exited: Promise<void>;
  /**
   * Stops the server and starts it again on the same port with the same store
   * (JetStream file storage survives). Only for `binary`.
   */
  restart(): Promise<void>;
  /**
   * Makes the server read its configuration file again (`-c` in `args`), as
   * SIGHUP does: changed users and permissions apply to connected clients.
   * Only for `binary`.
   */
  reload(): Promise<void>;
}

/** Options of {@link startNats}. */
export interface StartNatsOptions {
  /** Enable JetStream (default true). */
  jetstream?: boolean;
  /** Require this user name (with `pass`). */
  user?: string;
  /** Password for `user`. */
  pass?: string;
  /** Require this token. */
  token?: string;
  /** Extra `nats-server` arguments (binary only). */
  args?: string[];
  /**
   * Use `NATS_URL` when set (default true). A server with auth, extra
   * arguments or JetStream off is always started fresh.
   */
  useEnv?: boolean;
  /** Try Docker (testcontainers) when an engine answers (default true). */
  docker?: boolean;
  /** How long to wait for the server to be ready, in ms (default 20 000). */
  startTimeout?: number;
  /** Binary only: listen on this port instead of a free one. */
  port?: number;
  /** Binary only: keep JetStream's store in this directory (kept after `stop()`) instead of a temporary one. */
  storeDir?: string;
}
