/** The options every command that talks to a server takes, and their parsed values. */
import { type Command, Option } from "commander";
import { positiveInt } from "./option-parsers.js";

/** The options every command that talks to a server takes. */
export interface ServerFlags {
  server?: string;
  namespace?: string;
  user?: string;
  password?: string;
  token?: string;
  creds?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  timeout?: number;
  connectTimeout?: number;
  json?: boolean;
}

/** Adds the server options (read as {@link ServerFlags}) to `cmd`, after its own; returns `cmd`. */
export function serverOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("-s, --server <url>", "NATS server URL (several comma-separated)")
        .env("NATS_URL")
        .default("nats://127.0.0.1:4222"),
    )
    .option("-n, --namespace <ns>", "subject namespace", "jetmesh")
    .option("--user <user>", "user name")
    .option("--password <password>", "password")
    .option("--token <token>", "authentication token")
    .option("--creds <file>", "NATS credentials file (JWT and seed)")
    .option("--tls-ca <file>", "CA certificate to verify the server with")
    .option("--tls-cert <file>", "client certificate (with --tls-key)")
    .option("--tls-key <file>", "client private key")
    .option("-t, --timeout <ms>", "time-out of the operation in ms", positiveInt)
    .option("--connect-timeout <ms>", "how long to keep trying to reach the server, in ms", positiveInt)
    .option("--json", "machine-readable output");
}
