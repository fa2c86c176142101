/** JetStream API answers: the codes jetmesh reacts to, and their mapping to jetmesh errors. */
import { JetStreamApiError } from "@nats-io/jetstream";
import { ConfigurationError, ConnectionError, fromNatsError, type JetmeshError } from "../errors/index.js";

/** JetStream API error codes jetmesh reacts to. */
export const API = {
  streamNotFound: 10059,
  streamNameInUse: 10058,
  subjectsOverlap: 10065,
  insufficientResources: 10023,
  insufficientStorage: 10047,
  notEnabledForAccount: 10039,
  replicasNotSupported: 10074,
  consumerNotFound: 10014,
} as const;

const ENABLE_JETSTREAM =
  "JetStream is not enabled on the NATS server: start it with `nats-server -js` " +
  "(or add a `jetstream {}` block to its configuration)";

/** Whether `err` is JetStream's answer with API error `code`. */
export function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/**
 * JetStream answers that pass on their own: the cluster has no meta leader
 * yet, a stream or consumer is electing one, or its peers are restarting.
 */
const TRANSIENT_CODES: ReadonlySet<number> = new Set([
  10008, // JetStream system temporarily unavailable (503)
  10009, // JetStream cluster can not handle request
]);
const TRANSIENT_TEXT = /temporarily unavailable|offline|leadership|not currently available|no quorum/i;

/** Whether a JetStream API error passes on its own (a cluster electing a leader): retry, don't reconfigure. */
export function isTransientApiError(err: unknown): boolean {
  if (!(err instanceof JetStreamApiError)) return false;
  const api = err.apiError();
  return api.code === 503 || TRANSIENT_CODES.has(err.code) || TRANSIENT_TEXT.test(api.description ?? "");
}

/**
 * Maps an error from a JetStream API call to a jetmesh error. `kind` is the
 * stream the call was about, for messages that name its options.
 */
export function fromJetStreamError(err: unknown, what: string, kind: "topics" | "tunnels" = "topics"): JetmeshError {
  if (err instanceof Error && err.name === "JetStreamNotEnabled") {
    return new ConfigurationError(`${what}: ${ENABLE_JETSTREAM}`, { cause: err });
  }
  if (isTransientApiError(err)) {
    const desc = (err as JetStreamApiError).apiError().description;
    return new ConnectionError(`${what}: JetStream is temporarily unavailable (${desc}); retry`, {
      cause: err,
      retryable: true,
    });
  }
  if (err instanceof JetStreamApiError) {
    const desc = err.apiError().description;
    switch (err.code) {
      case API.notEnabledForAccount:
        return new ConfigurationError(
          `${what}: JetStream is not enabled for this account; enable it in the server's account configuration`,
          { cause: err },
        );
      case API.insufficientResources:
      case API.insufficientStorage:
        return new ConfigurationError(
          `${what}: the server has not enough JetStream storage for the ${kind} stream (${desc}); ` +
            `lower the ${kind}.maxBytes option or raise the server's max_file_store / max_memory_store`,
          { cause: err },
        );
      case API.replicasNotSupported:
        return new ConfigurationError(
          `${what}: ${desc}; replicas above 1 need a JetStream cluster of at least that many servers`,
          { cause: err },
        );
      default:
        return new ConfigurationError(`${what}: JetStream refused (${err.code}: ${desc})`, { cause: err });
    }
  }
  return fromNatsError(err, what);
}
