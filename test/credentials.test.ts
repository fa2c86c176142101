import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createAccount,
  createOperator,
  createUser,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  type KeyPair,
} from "@nats-io/jwt";
import { nkeyAuthenticator } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, ConnectionError, connect, permissions, silentLogger } from "../src/index.js";
import { type NatsServer, startNats } from "../src/testing/index.js";
import { dec, enc, TEST_STREAM_BYTES, waitFor } from "./helpers.js";

const dir = tmpdir();
const file = (name: string) => join(dir, `jetmesh-creds-${process.pid}-${Date.now()}-${name}`);

async function serverWith(config: string): Promise<NatsServer> {
  const path = file("server.conf");
  await writeFile(path, config);
  return startNats({ useEnv: false, docker: false, args: ["-c", path] });
}

/** A request, a publish and a subscription over `conn`: the connection is fully usable. */
async function works(conn: Connection): Promise<void> {
  await conn.register("echo", { handleRequest: (r) => r });
  expect(dec(await conn.request("echo", enc("hi")))).toBe("hi");
  const got: string[] = [];
  await conn.subscribe("news", (e) => void got.push(dec(e)));
  await conn.publish("news", enc("stored"));
  await waitFor("the event", () => got.length === 1);
  expect(got).toEqual(["stored"]);
}

/** A connect that must be refused: a ConnectionError, not retryable, well before its connect time-out. */
async function refused(attempt: Promise<Connection>): Promise<void> {
  const t0 = performance.now();
  const err = await attempt.then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectionError);
  expect((err as ConnectionError).retryable).toBe(false);
  expect((err as Error).message).toMatch(/authorization|authentication/i);
  expect(performance.now() - t0).toBeLessThan(10_000);
}

/** A server whose only user is the nkey `user`; nkeys are the NATS way to log in without a shared secret. */
describe("nkey authentication", () => {
  const user = createUser();
  let server: NatsServer;
  beforeAll(async () => {
    server = await serverWith(`authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }\n`);
  }, 60_000);
  afterAll(() => server?.stop());

  it("connects with the user's seed, and every pattern works", async () => {
    await using conn = await connect({
      servers: server.url,
      authenticator: nkeyAuthenticator(user.getSeed()),
      logger: silentLogger,
      topics: { maxBytes: TEST_STREAM_BYTES },
    });
    await works(conn);
  });

  it("refuses another key at once, not retryable", async () => {
    await refused(
      connect({
        servers: server.url,
        authenticator: nkeyAuthenticator(createUser().getSeed()),
        logger: silentLogger,
        connectTimeout: 20_000,
      }),
    );
  });
});

/**
 * Decentralized auth: an operator, an account with JetStream, and users
 * whose JWTs carry their permissions, given to jetmesh as a `.creds` file
 * (`credsFile`). One user has exactly what `jetmesh permissions` prints.
 */
describe("JWT and .creds authentication", () => {
  let server: NatsServer;
  let account: KeyPair;

  async function creds(name: string, issuer: KeyPair, claims: Parameters<typeof encodeUser>[3] = {}): Promise<string> {
    const ukp = createUser();
    const jwt = await encodeUser(name, ukp, issuer, claims);
    const path = file(`${name}.creds`);
    await writeFile(path, fmtCreds(jwt, ukp));
    return path;
  }

  beforeAll(async () => {
    const operator = createOperator();
    account = createAccount();
    const system = createAccount();
    // an account's limits not given are 0: none
    const unlimited = {
      ...{ conn: -1, subs: -1, data: -1, payload: -1, leaf: -1, imports: -1, exports: -1, wildcards: true },
      ...{ mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
    };
    const operatorJwt = await encodeOperator("O", operator, { system_account: system.getPublicKey() });
    const accountJwt = await encodeAccount("A", account, { limits: unlimited }, { signer: operator });
    const systemJwt = await encodeAccount("SYS", system, {}, { signer: operator });
    server = await serverWith(
      [
        `operator: ${operatorJwt}`,
        `system_account: ${system.getPublicKey()}`,
        "resolver: MEMORY",
        `resolver_preload: { ${account.getPublicKey()}: ${accountJwt}, ${system.getPublicKey()}: ${systemJwt} }`,
        "",
      ].join("\n"),
    );
  }, 60_000);
  afterAll(() => server?.stop());

  it("connects with a .creds file, and every pattern works", async () => {
    await using conn = await connect({
      servers: server.url,
      credsFile: await creds("full", account),
      logger: silentLogger,
      topics: { maxBytes: TEST_STREAM_BYTES },
    });
    await works(conn);
  });

  it("works under the least permissions, carried in the user's JWT", async () => {
    const perms = permissions("shop");
    const credsFile = await creds("shop-member", account, {
      pub: { allow: perms.publish.allow, deny: [] },
      sub: { allow: perms.subscribe.allow, deny: [] },
      resp: { max: 1, ttl: 0 },
    });
    await using conn = await connect({
      servers: server.url,
      credsFile,
      namespace: "shop",
      logger: silentLogger,
      topics: { maxBytes: TEST_STREAM_BYTES },
    });
    await works(conn);
    // and nothing outside the namespace
    await using outside = await connect({ servers: server.url, credsFile, namespace: "bank", logger: silentLogger });
    await expect(outside.request("echo", enc("x"))).rejects.toMatchObject({ code: "PERMISSION" });
  });

  it("refuses a user of an account the server does not know, at once", async () => {
    await refused(
      connect({
        servers: server.url,
        credsFile: await creds("stranger", createAccount()),
        logger: silentLogger,
        connectTimeout: 20_000,
      }),
    );
  });
});
