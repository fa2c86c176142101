import { headers } from "@nats-io/nats-core";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  ClosedError,
  ConnectionError,
  InvalidArgumentError,
  JetmeshError,
  MemberLeftError,
  NoRespondersError,
  OverloadedError,
  PayloadTooLargeError,
  PermissionError,
  RemoteError,
  TimeoutError,
} from "../src/index.js";
import { errorOfReply, HEADER } from "../src/wire/index.js";

describe("errors", () => {
  it("form one family with stable codes, class names and retry flags", () => {
    const table: Array<[JetmeshError, string, string, boolean]> = [
      [new TimeoutError("t"), "TIMEOUT", "TimeoutError", true],
      [new ClosedError("c"), "CLOSED", "ClosedError", false],
      [new RemoteError("r", "E1"), "REMOTE", "RemoteError", false],
      [new NoRespondersError("n"), "NO_RESPONDERS", "NoRespondersError", true],
      [new OverloadedError("o"), "OVERLOADED", "OverloadedError", true],
      [new InvalidArgumentError("i"), "INVALID_ARGUMENT", "InvalidArgumentError", false],
      [new PayloadTooLargeError("p"), "PAYLOAD_TOO_LARGE", "PayloadTooLargeError", false],
      [new ConnectionError("x"), "CONNECTION", "ConnectionError", true],
      [new MemberLeftError("l"), "MEMBER_LEFT", "MemberLeftError", true],
      [new MemberLeftError("l", { retryable: false }), "MEMBER_LEFT", "MemberLeftError", false],
      [new PermissionError("p", "a.b"), "PERMISSION", "PermissionError", false],
    ];
    for (const [err, code, name, retryable] of table) {
      expect(err).toBeInstanceOf(JetmeshError);
      expect(err).toBeInstanceOf(Error);
      expect(err.code).toBe(code);
      expect(err.name).toBe(name);
      expect(err.retryable).toBe(retryable);
    }
    expect(new TimeoutError("t")).not.toBeInstanceOf(ClosedError);
    expect(new RemoteError("r", "E1").remoteCode).toBe("E1");
    expect(new PermissionError("p", "a.b").subject).toBe("a.b");
  });

  it("give RemoteError a remoteCode always: the remote side's, else 500", () => {
    expectTypeOf<RemoteError["remoteCode"]>().toEqualTypeOf<string>();
    expect(new RemoteError("r").remoteCode).toBe("500");
    expect(new RemoteError("r", "").remoteCode).toBe("500");
    // a micro service of another client that answers with a message and no code
    const h = headers();
    h.set(HEADER.serviceError, "it broke");
    const err = errorOfReply(h, "other");
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).remoteCode).toBe("500");
    expect(err?.message).toBe("it broke");
  });

  it("keep the cause", () => {
    const cause = new Error("root");
    expect(new ConnectionError("x", { cause }).cause).toBe(cause);
  });

  it("match instanceof across copies of the package (branded)", () => {
    // an error made by another copy: same brand and name, different prototype chain
    const foreign = Object.assign(new Error("other copy"), { name: "TimeoutError", code: "TIMEOUT" });
    Object.defineProperty(foreign, Symbol.for("jetmesh.error"), { value: true });
    expect(foreign).toBeInstanceOf(JetmeshError);
    expect(foreign).toBeInstanceOf(TimeoutError);
    expect(foreign).not.toBeInstanceOf(ClosedError);
    expect(new Error("plain")).not.toBeInstanceOf(JetmeshError);
    expect(null).not.toBeInstanceOf(JetmeshError);
  });
});
