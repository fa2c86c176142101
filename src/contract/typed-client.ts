/**
 * The typed clients of contracts, returned by `conn.use()`: a service's
 * requests, methods and broadcasts, or a topic's publish and subscribe, each
 * encoded and checked on the way out and decoded and checked on the way in.
 */
import type {
  Connection,
  PublishAck,
  PublishOptions,
  RequestOptions,
  ServiceClient,
  ServiceContract,
  SubscribeOptions,
  Subscription,
  TopicClient,
  TopicContract,
  TypedEventHandler,
  TypedTopicHandler,
} from "../api/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { isContract } from "./contract.js";
import { incoming, outgoing, replyAtCaller } from "./failures.js";
import { mapMaybePromise } from "./maybe-promise.js";
import { methodList } from "./methods.js";
import { type Part, type ServiceParts, serviceParts, topicParts } from "./parts.js";

/**
 * A request whose reply is decoded as it arrives: the connection's own,
 * injected so that contracts need nothing of the connection but its interface.
 */
export type DecodedRequest = (
  cluster: string,
  payload: Uint8Array,
  options: RequestOptions | undefined,
  decode: (reply: Uint8Array) => unknown,
) => Promise<unknown>;

/** The options of a typed call: a method is called by its own function. */
type MethodCallOptions = Omit<RequestOptions, "method">;

/** The typed client of `c` over `conn`, sending requests with `request`. */
export function clientOf(
  conn: Connection,
  request: DecodedRequest,
  c: ServiceContract | TopicContract,
): ServiceClient<unknown, unknown, unknown> | TopicClient<unknown> {
  if (!isContract(c)) throw new InvalidArgumentError("use() takes a contract made by contract() or topicContract()");
  return c.kind === "service" ? new TypedService(conn, request, c) : new TypedTopic(conn, c);
}

class TypedService implements ServiceClient<unknown, unknown, unknown> {
  readonly cluster: string;
  readonly #conn: Connection;
  readonly #request: DecodedRequest;
  readonly #parts: ServiceParts;
  readonly #decode: (reply: Uint8Array) => unknown;

  constructor(conn: Connection, request: DecodedRequest, c: ServiceContract) {
    this.#conn = conn;
    this.#request = request;
    this.cluster = c.name;
    const p = serviceParts(c);
    this.#parts = p;
    this.#decode = (reply) => p.reply.decode(reply, replyAtCaller);
    // one function per method: its names were checked not to hide this client's own members
    for (const [method, m] of p.methods) {
      const decode = (reply: Uint8Array) => m.reply.decode(reply, replyAtCaller);
      const call = (req: unknown, options?: MethodCallOptions) => this.#call(m.request, req, options, method, decode);
      Object.defineProperty(this, method, { value: call, enumerable: true });
    }
  }

  request(request: unknown, options?: MethodCallOptions): Promise<unknown> {
    const p = this.#parts;
    if (!p.request.declared) {
      const methods = p.methods.size === 0 ? "" : ` (call its methods instead: ${methodList(p.methods)})`;
      return Promise.reject(new InvalidArgumentError(`contract "${this.cluster}" has no request schema${methods}`));
    }
    return this.#call(p.request, request, options, undefined, this.#decode);
  }

  /**
   * Checks and encodes `request`, then sends it (to `method`, if given); the
   * reply is decoded as it arrives (a Standard Schema may check it
   * asynchronously).
   */
  #call(
    part: Part,
    request: unknown,
    options: MethodCallOptions | undefined,
    method: string | undefined,
    decode: (reply: Uint8Array) => unknown,
  ): Promise<unknown> {
    try {
      const named = (options as RequestOptions | undefined)?.method;
      if (named !== undefined) {
        throw new InvalidArgumentError(
          `options.method is not taken by a typed client of "${this.cluster}": call the method by its own function (client.${String(named)}(...))`,
        );
      }
      const sent = method === undefined ? options : withMethod(options, method);
      const bytes = part.encode(request, outgoing);
      if (bytes instanceof Uint8Array) return this.#request(this.cluster, bytes, sent, decode);
      return bytes.then((b) => this.#request(this.cluster, b, sent, decode));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async broadcast(message: unknown): Promise<void> {
    const p = this.#parts;
    if (!p.broadcast.declared) throw new InvalidArgumentError(`contract "${this.cluster}" has no broadcast schema`);
    await this.#conn.broadcast(this.cluster, await p.broadcast.encode(message, outgoing));
  }
}

/**
 * The options of a method's call: the caller's, with the method. Options that
 * are not an object go on as they are, for the connection to refuse.
 */
function withMethod(options: MethodCallOptions | undefined, method: string): RequestOptions | undefined {
  if (options === undefined) return { method };
  if (typeof options !== "object" || options === null) return options;
  return { ...options, method };
}

class TypedTopic implements TopicClient<unknown> {
  readonly topic: string;
  readonly #conn: Connection;
  readonly #event: Part;

  constructor(conn: Connection, c: TopicContract) {
    this.#conn = conn;
    this.topic = c.name;
    this.#event = topicParts(c).event;
  }

  publish(event: unknown, options?: PublishOptions): Promise<PublishAck> {
    try {
      const bytes = this.#event.encode(event, outgoing);
      if (bytes instanceof Uint8Array) return this.#conn.publish(this.topic, bytes, options);
      return Promise.resolve(bytes).then((b) => this.#conn.publish(this.topic, b, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  subscribe(
    handler: TypedEventHandler<unknown> | TypedTopicHandler<unknown>,
    options?: SubscribeOptions,
  ): Promise<Subscription> {
    let handle: TypedEventHandler<unknown>;
    if (typeof handler === "function") handle = handler;
    else if (typeof handler === "object" && handler !== null && typeof handler.handleEvent === "function") {
      handle = handler.handleEvent.bind(handler);
    } else {
      return Promise.reject(
        new InvalidArgumentError("handler must be a function or an object with a handleEvent method"),
      );
    }
    const event = this.#event;
    return this.#conn.subscribe(
      this.topic,
      (bytes, ctx) => mapMaybePromise(event.decode(bytes, incoming), (value) => handle(value, ctx)),
      options,
    );
  }
}
