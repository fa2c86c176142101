import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, ConnectionError, connect, InvalidArgumentError, silentLogger } from "../src/index.js";
import { type NatsServer, startNats } from "../src/testing/index.js";
import { dec, enc, uniqueNamespace } from "./helpers.js";

/** A CA, a server certificate for 127.0.0.1 and localhost, a client certificate, and another CA, made with openssl. */
function makeCertificates(dir: string): void {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  // a new key `name.key` with, for `req`, a certificate request (or with -x509, a self-signed certificate) `out`
  const newKey = (name: string, out: string, ...more: string[]) =>
    openssl(
      "req",
      ...more,
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      out,
      "-subj",
      `/CN=${name}`,
    );
  const ca = (name: string) => newKey(name, `${name}.pem`, "-x509", "-days", "2");
  const signed = (name: string, extensions: string) => {
    newKey(name, `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    );
  };
  ca("ca");
  ca("other-ca");
  signed("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  signed("client", "extendedKeyUsage=clientAuth\n");
}

describe("TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "jetmesh-tls-"));
  const file = (name: string) => join(dir, name);
  let tlsServer: NatsServer;
  let mutualServer: NatsServer;

  beforeAll(async () => {
    makeCertificates(dir);
    const serverTls = ["--tlscert", file("server.pem"), "--tlskey", file("server.key")];
    tlsServer = await startNats({ useEnv: false, docker: false, args: ["--tls", ...serverTls] });
    mutualServer = await startNats({
      useEnv: false,
      docker: false,
      args: ["--tlsverify", ...serverTls, "--tlscacert", file("ca.pem")],
    });
  }, 60_000);

  afterAll(async () => {
    await tlsServer?.stop();
    await mutualServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A request to a member on the same connection, and a publish seen by a subscriber. */
  async function exercise(conn: Connection): Promise<void> {
    await conn.register("echo", { handleRequest: (req) => req });
    expect(dec(await conn.request("echo", enc("over TLS"), { timeout: 5000 }))).toBe("over TLS");
    const seen: string[] = [];
    await conn.subscribe("news", (event) => {
      seen.push(dec(event));
    });
    await conn.publish("news", enc("stored"));
    await expect.poll(() => seen, { timeout: 5000 }).toEqual(["stored"]);
  }

  it("connects with the server's CA, and requests and topics work", async () => {
    await using conn = await connect({
      servers: tlsServer.url,
      namespace: uniqueNamespace(),
      tls: { caFile: file("ca.pem") },
      logger: silentLogger,
    });
    await exercise(conn);
  });

  it("connects with a client certificate to a server that requires one (mutual TLS)", async () => {
    await using conn = await connect({
      servers: mutualServer.url,
      namespace: uniqueNamespace(),
      tls: { caFile: file("ca.pem"), certFile: file("client.pem"), keyFile: file("client.key") },
      logger: silentLogger,
    });
    await exercise(conn);
  });

  it.each([
    ["no CA given (the system's CAs do not know it)", undefined],
    ["another CA", "other-ca.pem"],
  ])("rejects at once, not retryable, when the server's certificate is not trusted: %s", async (_, ca) => {
    const started = performance.now();
    const err = await connect({
      servers: tlsServer.url,
      connectTimeout: 10_000,
      logger: silentLogger,
      ...(ca === undefined ? {} : { tls: { caFile: file(ca) } }),
    }).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ retryable: false });
    expect((err as Error).message).toMatch(/certificate .* is not trusted/);
    expect((err as Error).message).toContain("options.tls.caFile");
    // not retried for the 10 s of the connect time-out
    expect(elapsed).toBeLessThan(3_000);
  });

  it.each([
    ["without a client certificate", {}],
    ["with a certificate of a CA the server does not know", { certFile: "other-ca.pem", keyFile: "other-ca.key" }],
  ])(
    "rejects at once, not retryable, when a server that requires a client certificate refuses it: %s",
    async (_, cert) => {
      const started = performance.now();
      const tls = { caFile: file("ca.pem"), ...Object.fromEntries(Object.entries(cert).map(([k, v]) => [k, file(v)])) };
      const err = await connect({ servers: mutualServer.url, connectTimeout: 10_000, logger: silentLogger, tls }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectionError);
      expect(err).toMatchObject({ retryable: false });
      expect((err as Error).message).toMatch(/refused this client's certificate/);
      expect(performance.now() - started).toBeLessThan(3_000);
    },
  );

  it("refuses a TLS file that cannot be read before touching the network", async () => {
    for (const key of ["caFile", "certFile", "keyFile"] as const) {
      const err = await connect({
        servers: tlsServer.url,
        tls: { caFile: file("ca.pem"), [key]: file("missing.pem") },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toContain(`options.tls.${key}`);
    }
  });
});
