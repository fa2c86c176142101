import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as natsConnect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { permissionsConfig } from "../src/client/index.js";
import {
  ClosedError,
  type Connection,
  type ConnectOptions,
  connect,
  NoRespondersError,
  PermissionError,
  permissions,
  silentLogger,
  type UserPermissions,
} from "../src/index.js";
import { type NatsServer, startNats } from "../src/testing/index.js";
import { dec, deferred, enc, TEST_STREAM_BYTES, waitFor } from "./helpers.js";

/** A user entry of a server's authorization block, with `perms` as its permissions (when given). */
function user(name: string, perms?: UserPermissions): string {
  return `{ user: "${name}", password: "pw"${perms ? `, ${permissionsConfig(perms)}` : ""} }`;
}

async function serverWith(config: string): Promise<NatsServer> {
  const file = join(tmpdir(), `jetmesh-tenants-${process.pid}-${Date.now()}-${Math.random()}.conf`);
  await writeFile(file, config);
  return startNats({ useEnv: false, docker: false, args: ["-c", file] });
}

/** Connect options of user `u` (password "pw") of `server`, with small test streams; `more` adds or overrides. */
function as(server: NatsServer, u: string, more: ConnectOptions = {}): ConnectOptions {
  return {
    servers: server.url,
    user: u,
    pass: "pw",
    logger: silentLogger,
    topics: { maxBytes: TEST_STREAM_BYTES },
    ...more,
  };
}

/** Registers on `conn` a member of "echo" that sends back every message of every tunnel. */
function echoTunnels(conn: Connection) {
  return conn.register("echo", {
    async handleTunnel(tun) {
      for await (const msg of tun) await tun.send(msg);
    },
  });
}

/** Everything one namespace's member and client do: every pattern, durable and group subscriptions, discovery. */
async function everyPattern(server: NatsServer, namespace: string, member: string, client: string) {
  const opts = (u: string) => as(server, u, { namespace, timeout: 5_000 });
  await using m = await connect(opts(member));
  await using c = await connect(opts(client));
  // one subscription per topic and connection: the group subscriber is a connection of its own
  await using g = await connect(opts(client));
  const broadcasts: string[] = [];
  await m.register("echo", {
    handleRequest: (req) => req,
    handleBroadcast: (msg) => void broadcasts.push(dec(msg)),
    async handleTunnel(tun) {
      for await (const msg of tun) await tun.send(msg);
    },
  });
  expect(dec(await c.request("echo", enc(`hi ${namespace}`)))).toBe(`hi ${namespace}`);
  await c.broadcast("echo", enc("all"));
  await waitFor("the broadcast", () => broadcasts.includes("all"));

  const plain: string[] = [];
  const durable: string[] = [];
  const group: string[] = [];
  const subs = [
    await c.subscribe("news", (e) => void plain.push(dec(e))),
    await m.subscribe("news", (e) => void durable.push(dec(e)), { durable: "keep" }),
    await g.subscribe("news", (e) => void group.push(dec(e)), { group: "workers" }),
  ];
  for (let i = 0; i < 3; i++) await c.publish("news", enc(`e${i}`));
  await m.publish("news", enc("e3"));
  const all = ["e0", "e1", "e2", "e3"];
  await waitFor("every event to every subscription", () => [plain, durable, group].every((l) => l.length === 4));
  expect([plain, durable, group]).toEqual([all, all, all]);
  for (const s of subs) await s.unsubscribe();
  // none ended by itself
  expect(await Promise.all(subs.map((s) => s.closed))).toEqual([undefined, undefined, undefined]);

  await using tun = await c.tunnel("echo");
  for (let i = 0; i < 20; i++) await tun.send(enc(`t${i}`));
  for (let i = 0; i < 20; i++) expect(dec(await tun.recv({ timeout: 5_000 }))).toBe(`t${i}`);
  await tun.close();

  const members = await c.discover();
  expect(members.map((x) => [x.cluster, x.metadata["jetmesh.namespace"]])).toEqual([["echo", namespace]]);
}

/**
 * Two tenants on one server, each with the users `jetmesh permissions`
 * prints (a member and a client), and no more: each one's every pattern
 * works, and neither can reach the other's requests, events, tunnels,
 * streams or members.
 */
describe("two tenants as users with jetmesh's least permissions", () => {
  let server: NatsServer;
  beforeAll(async () => {
    const users = ["shop", "bank"].flatMap((ns) => [
      user(`${ns}-member`, permissions(ns)),
      user(`${ns}-client`, permissions(ns, { role: "client" })),
    ]);
    server = await serverWith(`authorization { users = [\n${users.join("\n")}\n] }\n`);
  }, 60_000);
  afterAll(() => server?.stop());

  it("each uses every pattern under its own permissions", async () => {
    await everyPattern(server, "shop", "shop-member", "shop-client");
    await everyPattern(server, "bank", "bank-member", "bank-client");
  });

  it("neither reaches the other: calls, events, streams and subscriptions there fail at once, naming the subject", async () => {
    const opts = (u: string, namespace: string) => as(server, u, { namespace, timeout: 10_000 });
    await using bank = await connect(opts("bank-member", "bank"));
    await bank.register("vault", { handleRequest: () => enc("gold") });
    await bank.publish("ledger", enc("secret"));
    // shop's users, pointed at bank's namespace
    await using intruder = await connect(opts("shop-client", "bank"));
    const t0 = performance.now();
    const tries = [
      intruder.request("vault", enc("x")),
      intruder.publish("ledger", enc("forged")),
      intruder.subscribe("ledger", () => {}),
      intruder.tunnel("vault"),
    ];
    for (const attempt of tries) {
      const err = await attempt.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PermissionError);
      expect((err as PermissionError).retryable).toBe(false);
      expect((err as PermissionError).subject).toMatch(
        /^(bank\.|\$JS\.API\..*JETMESH_(TOPICS|TUNNELS)_bank|_INBOX_bank\.)/,
      );
    }
    // at once, not at the 10 s time-out
    expect(performance.now() - t0).toBeLessThan(5_000);
    // a broadcast is fire and forget: the first is refused after it resolved, the next ones fail at once
    await intruder.broadcast("vault", enc("x"));
    await intruder.nats.flush();
    await new Promise((r) => setImmediate(r));
    await expect(intruder.broadcast("vault", enc("x"))).rejects.toMatchObject({
      code: "PERMISSION",
      subject: "bank.bcast.vault",
    });
    await using posing = await connect(opts("shop-member", "bank"));
    await expect(posing.register("vault", { handleRequest: (r) => r })).rejects.toBeInstanceOf(PermissionError);
    // shop's discovery does not see bank's members
    await using shop = await connect(opts("shop-client", "shop"));
    expect(await shop.discover(undefined, { timeout: 300 })).toEqual([]);
    expect(await shop.discover("vault", { timeout: 300 })).toEqual([]);

    // a raw client of shop's member user cannot listen in on bank's subjects or inboxes
    const raw = await natsConnect({ servers: server.url, user: "shop-member", pass: "pw" });
    try {
      for (const subject of ["bank.>", "_INBOX_bank.>", "$SRV.>", ">"]) {
        const ended = deferred<Error | null>();
        raw.subscribe(subject, { callback: (err) => ended.resolve(err) });
        await raw.flush();
        expect(String(await ended.promise), subject).toMatch(/permission/i);
      }
    } finally {
      await raw.close();
    }
  });
});

/**
 * Two tenants as NATS accounts: both use the default namespace and the
 * same cluster, topic and stream names, and see only their own.
 */
describe("two tenants as separate accounts", () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await serverWith(
      `accounts {
        A: { jetstream: enabled, users: [ { user: "a", password: "pw" } ] }
        B: { jetstream: enabled, users: [ { user: "b", password: "pw" } ] }
      }\n`,
    );
  }, 60_000);
  afterAll(() => server?.stop());

  const open = (u: string): Promise<Connection> => connect(as(server, u));

  it("each uses every pattern in its own account", async () => {
    await everyPattern(server, "jetmesh", "a", "a");
    await everyPattern(server, "jetmesh", "b", "b");
  });

  it("share no cluster, topic or member though every name is the same", async () => {
    await using a = await open("a");
    await using b = await open("b");
    await a.register("echo", { handleRequest: () => enc("from A") });
    await expect(b.request("echo", enc("x"))).rejects.toBeInstanceOf(NoRespondersError);
    await b.register("echo", { handleRequest: () => enc("from B") });
    for (let i = 0; i < 10; i++) expect(dec(await b.request("echo", enc("x")))).toBe("from B");
    const seenByA: string[] = [];
    await using sub = await a.subscribe("news", (e) => void seenByA.push(dec(e)));
    await b.publish("news", enc("B's news"));
    await a.publish("news", enc("A's news"));
    await waitFor("A's event", () => seenByA.length > 0);
    expect(seenByA).toEqual(["A's news"]);
    expect((await a.discover()).map((m) => m.cluster)).toEqual(["echo"]);
    expect((await b.discover()).length).toBe(1);
    void sub;
  });
});

/**
 * A user lacking one of the permissions jetmesh needs: the operation that
 * needs it fails at once with a PermissionError naming the subject, instead
 * of timing out, delivering nothing, or redelivering forever.
 */
describe("a missing permission", () => {
  const ns = "lack";
  const full = permissions(ns);
  // a client's: a member may also answer what it receives (allow_responses), acks included
  const client = permissions(ns, { role: "client" });
  /** The client permissions of `ns` without the publish subjects `drop` matches. */
  const without = (drop: RegExp): UserPermissions => ({
    ...client,
    publish: { allow: client.publish.allow.filter((x) => !drop.test(x)) },
  });
  const lacking = {
    "no-create": without(/^\$JS\.API\.STREAM\.CREATE\.JETMESH_TOPICS/),
    "no-next": without(/^\$JS\.API\.CONSUMER\.MSG\.NEXT\.JETMESH_TOPICS/),
    "no-ack": without(/^\$JS\.ACK\.JETMESH_TOPICS/),
    "no-tunnels": without(/JETMESH_TUNNELS/),
    // may not take a tunnel opener's control messages
    "no-control-in": { ...client, subscribe: { allow: client.subscribe.allow.filter((x) => !x.includes(".tunctl.")) } },
  };
  let server: NatsServer;
  beforeAll(async () => {
    const users = [user("full", full), ...Object.entries(lacking).map(([name, perms]) => user(name, perms))];
    // may not send control messages (credit, heartbeats): a deny inside the namespace's allow
    users.push(user("no-control-out", client).replace("allow: [", `deny: ["${ns}.tunctl.>"]\n    allow: [`));
    server = await serverWith(`authorization { users = [\n${users.join("\n")}\n] }\n`);
  }, 60_000);
  afterAll(() => server?.stop());

  const open = (u: string): Promise<Connection> => connect(as(server, u, { namespace: ns, timeout: 15_000 }));

  /** `p` rejects with a PermissionError naming a subject `subject` matches, within 5 s (the time-out is 15 s). */
  async function refusedAtOnce(p: Promise<unknown>, subject: RegExp): Promise<void> {
    const t0 = performance.now();
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PermissionError);
    expect((err as PermissionError).subject).toMatch(subject);
    expect((err as PermissionError).retryable).toBe(false);
    expect(performance.now() - t0).toBeLessThan(5_000);
  }

  it("to create the topics stream: publish fails at once", async () => {
    await using conn = await open("no-create");
    await refusedAtOnce(conn.publish("news", enc("x")), /^\$JS\.API\.STREAM\.CREATE\./);
  });

  it("to pull: subscribe fails at once, naming the pull subject, and leaves nothing subscribed", async () => {
    await using owner = await open("full");
    await owner.publish("news", enc("made the stream"));
    await using conn = await open("no-next");
    for (let i = 0; i < 2; i++) {
      await refusedAtOnce(
        conn.subscribe("news", () => {}),
        /^\$JS\.API\.CONSUMER\.MSG\.NEXT\./,
      );
    }
  });

  it("to acknowledge: a durable subscription ends after its first event instead of getting it again and again", async () => {
    await using owner = await open("full");
    await owner.publish("news", enc("made the stream"));
    await using conn = await open("no-ack");
    let handled = 0;
    const sub = await conn.subscribe("news", () => void handled++, { durable: "acks" });
    await owner.publish("news", enc("one"));
    await refusedAtOnce(
      sub.closed.then((err) => Promise.reject(err)),
      /^\$JS\.ACK\./,
    );
    expect(handled).toBe(1);
  });

  it("to use the tunnels stream: opening a tunnel fails at once", async () => {
    await using member = await open("full");
    await echoTunnels(member);
    await using conn = await open("no-tunnels");
    await refusedAtOnce(conn.tunnel("echo"), /JETMESH_TUNNELS_lack/);
  });

  it("to take tunnel control messages: opening a tunnel fails at once", async () => {
    await using member = await open("full");
    await echoTunnels(member);
    await using conn = await open("no-control-in");
    await refusedAtOnce(conn.tunnel("echo"), /^lack\.tunctl\..*\.o$/);
  });

  it("to send tunnel control messages: the tunnel breaks at once, its error caused by the refusal", async () => {
    await using member = await open("full");
    await echoTunnels(member);
    await using conn = await open("no-control-out");
    const tun = await conn.tunnel("echo");
    const t0 = performance.now();
    const err = await tun.recv({ timeout: 15_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClosedError);
    expect((err as Error).cause).toBeInstanceOf(PermissionError);
    expect(((err as Error).cause as PermissionError).subject).toMatch(/^lack\.tunctl\..*\.a$/);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it("to ask $SRV: foreign discovery fails at once; namespace discovery works", async () => {
    await using member = await open("full");
    await member.register("echo", { handleRequest: (r) => r });
    expect((await member.discover()).map((m) => m.cluster)).toEqual(["echo"]);
    await refusedAtOnce(member.discover(undefined, { foreign: true, timeout: 10_000 }), /^\$SRV\./);
  });
});

/**
 * Permissions that change while connected (the server's configuration is
 * reloaded): a member whose user may no longer take its cluster's requests
 * leaves, and is told why, instead of staying registered and getting nothing.
 */
describe("permissions revoked while connected", () => {
  it("make a member leave, its handleDrop and closed told the PermissionError", async () => {
    const ns = "revoked";
    const file = join(tmpdir(), `jetmesh-revoke-${process.pid}-${Date.now()}.conf`);
    const config = (perms: UserPermissions) =>
      `authorization { users = [\n${user("member", perms)}\n${user("caller", permissions(ns, { role: "client" }))}\n] }\n`;
    await writeFile(file, config(permissions(ns)));
    await using server = await startNats({ useEnv: false, docker: false, args: ["-c", file] });
    const opts = (u: string) => as(server, u, { namespace: ns });
    await using member = await connect(opts("member"));
    const dropped = deferred<Error>();
    const svc = await member.register("echo", {
      handleRequest: (r) => r,
      handleDrop: (reason) => dropped.resolve(reason),
    });
    await using caller = await connect(opts("caller"));
    expect(dec(await caller.request("echo", enc("before")))).toBe("before");

    // the member's user may no longer subscribe to the namespace's subjects (its inbox stays)
    const full = permissions(ns);
    await writeFile(
      file,
      config({ ...full, subscribe: { allow: full.subscribe.allow.filter((x) => x !== `${ns}.>`) } }),
    );
    await server.reload();
    const reason = await dropped.promise;
    expect(reason).toBeInstanceOf(PermissionError);
    expect((reason as PermissionError).subject).toMatch(new RegExp(`^${ns}\\.`));
    expect(await svc.closed).toBe(reason);
    // gone from discovery, and its cluster has no member
    await expect(caller.request("echo", enc("after"), { timeout: 2_000 })).rejects.toBeInstanceOf(NoRespondersError);
  });
});
