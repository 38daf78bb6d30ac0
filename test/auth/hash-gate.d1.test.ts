// The per-isolate hash gate (src/auth/hash-gate.ts): one hash at a time, in arrival order, a bounded
// queue that sheds with 503 `overloaded` + Retry-After, and authenticated reads let through between
// hashes. Hashes are fakes the test finishes by hand; no timings are asserted.
import { describe, expect, it } from "vitest";
import { gatedHasher, HashGate } from "../../src/auth/hash-gate";
import type { PasswordHasher } from "../../src/auth/password";
import { AppError } from "../../src/errors";

/** Lets queued timers and I/O callbacks run (a few macrotask turns). */
async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** A hash the test finishes by hand, recording when it started. */
function manualHashes() {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const hash = (name: string) => (): Promise<string> => {
    started.push(name);
    return new Promise((resolve) => finish.set(name, () => resolve(name)));
  };
  return { started, hash, finish: (name: string) => finish.get(name)!() };
}

describe("hash gate", () => {
  it("runs one hash at a time, in arrival order", async () => {
    const gate = new HashGate({ maxQueued: 4 });
    const m = manualHashes();
    const results = ["a", "b", "c"].map((name) => gate.run(m.hash(name)));
    await settle();
    expect(m.started).toEqual(["a"]);
    expect(gate.queued).toBe(2);
    m.finish("a");
    await settle();
    expect(m.started).toEqual(["a", "b"]);
    m.finish("b");
    await settle();
    m.finish("c");
    expect(await Promise.all(results)).toEqual(["a", "b", "c"]);
    expect([gate.running, gate.queued]).toEqual([false, 0]);
  });

  it("sheds beyond the queue bound with 503 overloaded and Retry-After, and runs none of the shed work", async () => {
    const gate = new HashGate({ maxQueued: 1, retryAfterSeconds: 2 });
    const m = manualHashes();
    const first = gate.run(m.hash("a"));
    const second = gate.run(m.hash("b"));
    const shed = await gate.run(m.hash("c")).catch((err: unknown) => err);
    expect(shed).toBeInstanceOf(AppError);
    expect((shed as AppError).code).toBe("overloaded");
    expect((shed as AppError).status).toBe(503);
    expect((shed as AppError).headers).toEqual({ "Retry-After": "2" });
    m.finish("a");
    await settle();
    m.finish("b");
    expect([await first, await second]).toEqual(["a", "b"]);
    expect(m.started).toEqual(["a", "b"]);
    // Room again once the queue drained.
    const again = gate.run(m.hash("d"));
    await settle();
    m.finish("d");
    expect(await again).toBe("d");
  });

  it("a failed hash frees the gate for the next one", async () => {
    const gate = new HashGate({ maxQueued: 2 });
    const failing = gate.run(() => Promise.reject(new Error("boom")));
    const next = gate.run(async () => "next");
    await expect(failing).rejects.toThrow("boom");
    expect(await next).toBe("next");
    expect(gate.running).toBe(false);
  });

  it("holds the next hash while authenticated reads are in flight, then runs it", async () => {
    const gate = new HashGate({ maxQueued: 4, maxReadWaitMs: 60_000 });
    const m = manualHashes();
    let endRead!: () => void;
    const read = gate.read(() => new Promise<string>((resolve) => (endRead = () => resolve("me"))));
    const hashed = gate.run(m.hash("login"));
    await settle();
    expect(m.started).toEqual([]);
    endRead();
    expect(await read).toBe("me");
    await settle();
    expect(m.started).toEqual(["login"]);
    m.finish("login");
    expect(await hashed).toBe("login");
    expect(gate.readsInFlight).toBe(0);
  });

  it("does not starve sign-ins: a hash runs anyway when reads never stop", async () => {
    const gate = new HashGate({ maxQueued: 4, maxReadWaitMs: 1 });
    const endless = gate.read(() => new Promise<never>(() => {}));
    const hashed = gate.run(async () => "ran");
    expect(await hashed).toBe("ran");
    expect(gate.readsInFlight).toBe(1);
    void endless;
  });

  it("a read that fails still leaves the count", async () => {
    const gate = new HashGate();
    await expect(gate.read(() => Promise.reject(new Error("db down")))).rejects.toThrow("db down");
    expect(gate.readsInFlight).toBe(0);
  });

  it("gatedHasher sends hash and verify through the gate and keeps the dummy hash", async () => {
    const gate = new HashGate({ maxQueued: 0 });
    let release!: () => void;
    const slow: PasswordHasher = {
      hash: () => new Promise((resolve) => (release = () => resolve("$h"))),
      verify: async () => ({ ok: true, needsRehash: false }),
      dummyHash: "$dummy",
    };
    const hasher = gatedHasher(slow, gate);
    expect(hasher.dummyHash).toBe("$dummy");
    const pending = hasher.hash("pw");
    await settle();
    await expect(hasher.verify("pw", "$h")).rejects.toMatchObject({ code: "overloaded" });
    release();
    expect(await pending).toBe("$h");
    expect(await hasher.verify("pw", "$h")).toEqual({ ok: true, needsRehash: false });
  });
});
