// The per-isolate hash gate (src/auth/hash-gate.ts): one hash at a time, in arrival order, a bounded
// queue that sheds with 503 `overloaded` + Retry-After, and authenticated reads let through between
// hashes and between the lanes of one hash. Hashes and reads are fakes the test finishes by hand; no
// timings are asserted (the grace tests use bounds hundreds of times what they need).
import { describe, expect, it, vi } from "vitest";
import { gatedHasher, HashGate } from "../../src/auth/hash-gate";
import { type PasswordHasher, scryptHasher } from "../../src/auth/password";
import { AppError } from "../../src/errors";

/** Lets queued timers and I/O callbacks run (a few macrotask turns). */
async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** A hash the test finishes by hand, recording when it started. */
function manualHashes() {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const hash =
    (name: string) =>
    (_pause: unknown): Promise<string> => {
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

  it("a holder that vanished without releasing (its request cancelled) is taken over by the head of the queue", async () => {
    const gate = new HashGate({ maxQueued: 4, holderTimeoutMs: 50 });
    let endLost!: () => void;
    // Stands for a hash whose request workerd stopped: it shows no progress for longer than the timeout.
    const lost = gate.run(() => new Promise<string>((resolve) => (endLost = () => resolve("lost"))));
    const next = gate.run(async () => "next");
    const after = gate.run(async () => "after");
    expect(await next).toBe("next");
    expect(await after).toBe("after");
    expect(gate.running).toBe(false);
    // If the lost one comes back, its release does not touch whoever holds the gate now.
    const m = manualHashes();
    const current = gate.run(m.hash("current"));
    const queued = gate.run(m.hash("queued"));
    await settle();
    endLost();
    expect(await lost).toBe("lost");
    await settle();
    expect(m.started).toEqual(["current"]);
    m.finish("current");
    expect(await current).toBe("current");
    await settle();
    m.finish("queued");
    expect(await queued).toBe("queued");
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

  it("forgets a read that never finished (its request was cancelled) after 10 s, so hashes stop waiting for it", async () => {
    const gate = new HashGate({ maxReadWaitMs: 60_000, graceMs: 0 });
    const start = Date.now();
    const clock = vi.spyOn(Date, "now").mockReturnValue(start);
    try {
      void gate.read(() => new Promise<never>(() => {}));
      expect(gate.readsInFlight).toBe(1);
      clock.mockReturnValue(start + 10_001);
      expect(gate.readsInFlight).toBe(0);
      // maxReadWaitMs is a minute: this would time out if the lost read were still waited for.
      expect(await gate.run(async () => "ran")).toBe("ran");
    } finally {
      clock.mockRestore();
    }
  });

  it("gatedHasher hands every gated call to keepAlive (waitUntil), failed ones too, so a cancelled request still releases the gate", async () => {
    const gate = new HashGate();
    const kept: Promise<unknown>[] = [];
    const failing: PasswordHasher = {
      hash: async () => "$h",
      verify: () => Promise.reject(new Error("boom")),
      dummyHash: "$dummy",
    };
    const hasher = gatedHasher(failing, gate, (work) => kept.push(work));
    expect(await hasher.hash("pw")).toBe("$h");
    await expect(hasher.verify("pw", "$h")).rejects.toThrow("boom");
    expect(kept).toHaveLength(2);
    // What waitUntil gets never rejects (the caller handles the error), and settles with the hash.
    expect(await Promise.all(kept)).toEqual(["$h", undefined]);
    expect(gate.running).toBe(false);
  });

  it("a read that fails still leaves the count", async () => {
    const gate = new HashGate();
    await expect(gate.read(() => Promise.reject(new Error("db down")))).rejects.toThrow("db down");
    expect(gate.readsInFlight).toBe(0);
  });

  it("gatedHasher sends hash and verify through the gate and keeps the dummy hash", async () => {
    const gate = new HashGate({ maxQueued: 0 });
    let release!: () => void;
    const pauses: unknown[] = [];
    const slow: PasswordHasher = {
      hash: (_password, pause) => {
        pauses.push(pause);
        return new Promise((resolve) => (release = () => resolve("$h")));
      },
      verify: async (_password, _stored, pause) => {
        pauses.push(pause);
        return { ok: true, needsRehash: false };
      },
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
    // Both got the gate's pause to call between their lanes.
    expect(pauses).toHaveLength(2);
    for (const pause of pauses) expect(pause).toBeTypeOf("function");
  });
});

/** A hash of two lanes the test ends by hand, logging into `log`. */
function twoLaneHash(log: string[], name: string) {
  let endLane!: () => void;
  const hash = async (pause: () => Promise<void>): Promise<string> => {
    log.push(`${name} lane 1`);
    await new Promise<void>((resolve) => (endLane = resolve));
    await pause();
    log.push(`${name} lane 2`);
    return name;
  };
  return { hash, endLane1: () => endLane() };
}

/** A read the test ends by hand, logging into `log`. */
function manualRead(gate: HashGate, log: string[], name: string) {
  let end!: () => void;
  const done = gate.read(async () => {
    log.push(`${name} start`);
    await new Promise<void>((resolve) => (end = resolve));
    log.push(`${name} end`);
  });
  return { done, end: () => end() };
}

describe("hash gate: reads between the lanes of one hash", () => {
  it("a read that started while a lane ran completes before the next lane starts", async () => {
    const gate = new HashGate({ maxReadWaitMs: 60_000, graceMs: 0 });
    const log: string[] = [];
    const h = twoLaneHash(log, "login");
    const hashed = gate.run(h.hash);
    await settle();
    const read = manualRead(gate, log, "me");
    h.endLane1();
    await settle(20);
    expect(log).toEqual(["login lane 1", "me start"]);
    read.end();
    expect(await hashed).toBe("login");
    await read.done;
    expect(log).toEqual(["login lane 1", "me start", "me end", "login lane 2"]);
  });

  it("a read that reaches the gate a few turns after the lane ended still goes first (grace)", async () => {
    // A request queued behind a lane takes several event-loop turns to reach `read`: the grace covers
    // them, but only when reads were seen lately.
    const gate = new HashGate({ maxReadWaitMs: 60_000, graceMs: 2000 });
    const log: string[] = [];
    await gate.read(async () => "an earlier read");
    const h = twoLaneHash(log, "login");
    const hashed = gate.run(h.hash);
    await settle();
    h.endLane1();
    await settle(3);
    const read = manualRead(gate, log, "me");
    await settle(20);
    expect(log).toEqual(["login lane 1", "me start"]);
    read.end();
    expect(await hashed).toBe("login");
    expect(log).toEqual(["login lane 1", "me start", "me end", "login lane 2"]);
  });

  it("with no reads seen lately, a lane follows the previous one without the grace", async () => {
    // A grace of a minute would time the test out if it were spent.
    const gate = new HashGate({ graceMs: 60_000 });
    const log: string[] = [];
    const h = twoLaneHash(log, "login");
    const hashed = gate.run(h.hash);
    await settle();
    h.endLane1();
    expect(await hashed).toBe("login");
    expect(log).toEqual(["login lane 1", "login lane 2"]);
  });

  it("with nobody around (no read lately, no hash queued) a pause does not yield to the event loop", async () => {
    const gate = new HashGate({ graceMs: 0 });
    const log: string[] = [];
    const h = twoLaneHash(log, "login");
    const hashed = gate.run(h.hash);
    await settle();
    // Due on the next macrotask: it runs before lane 2 only if the pause yields one.
    setTimeout(() => log.push("timer"), 0);
    h.endLane1();
    expect(await hashed).toBe("login");
    await settle();
    expect(log).toEqual(["login lane 1", "login lane 2", "timer"]);
  });

  it("a pause yields to the event loop when a read was seen lately or a hash is queued behind", async () => {
    const contended = async (setUp: (gate: HashGate) => Promise<unknown>): Promise<string[]> => {
      const gate = new HashGate({ graceMs: 0, maxReadWaitMs: 60_000 });
      const log: string[] = [];
      const h = twoLaneHash(log, "login");
      const hashed = gate.run(h.hash);
      await settle();
      const other = setUp(gate);
      setTimeout(() => log.push("timer"), 0);
      h.endLane1();
      expect(await hashed).toBe("login");
      await other;
      return log;
    };
    // A read that has come and gone: more may be on their way.
    expect(await contended((gate) => gate.read(async () => "me"))).toEqual([
      "login lane 1",
      "timer",
      "login lane 2",
    ]);
    // A sign-in queued behind: a storm, where readers may arrive any moment.
    expect(await contended((gate) => gate.run(async () => "queued"))).toEqual([
      "login lane 1",
      "timer",
      "login lane 2",
    ]);
  });

  it("the next hash waits, like a lane, for a read that started during the previous hash", async () => {
    const gate = new HashGate({ maxReadWaitMs: 60_000, graceMs: 0 });
    const log: string[] = [];
    const a = twoLaneHash(log, "a");
    const b = twoLaneHash(log, "b");
    const first = gate.run(a.hash);
    const second = gate.run(b.hash);
    await settle();
    a.endLane1();
    expect(await first).toBe("a");
    const read = manualRead(gate, log, "me");
    await settle(20);
    expect(log).toEqual(["a lane 1", "a lane 2", "me start"]);
    read.end();
    await read.done;
    await settle(20);
    expect(log).toEqual(["a lane 1", "a lane 2", "me start", "me end", "b lane 1"]);
    b.endLane1();
    expect(await second).toBe("b");
  });

  it("a lane waits for the reads in flight when it paused, not for reads that start afterwards", async () => {
    const gate = new HashGate({ maxReadWaitMs: 60_000, graceMs: 0 });
    const log: string[] = [];
    const h = twoLaneHash(log, "login");
    const hashed = gate.run(h.hash);
    await settle();
    const early = manualRead(gate, log, "early");
    h.endLane1();
    await settle(20);
    // The lane waits for `early`; `late` starts while it waits and never ends (a steady stream of reads).
    void manualRead(gate, log, "late").done;
    early.end();
    expect(await hashed).toBe("login");
    expect(log).toEqual(["login lane 1", "early start", "late start", "early end", "login lane 2"]);
    expect(gate.readsInFlight).toBe(1);
  });

  it("with real scrypt: a read in flight during lane 1 finishes before lane 2 starts", async () => {
    const gate = new HashGate({ maxReadWaitMs: 60_000, graceMs: 0 });
    const log: string[] = [];
    // scryptHasher, with its pauses logged around the gate's.
    const logged: PasswordHasher = {
      ...scryptHasher,
      hash: (pw, pause) =>
        scryptHasher.hash(pw, async () => {
          log.push("lane done");
          await pause?.();
          log.push("next lane");
        }),
    };
    const hashed = gatedHasher(logged, gate).hash("a-real-passphrase");
    // Counted in flight at once; its work needs three event-loop turns, so lane 1 runs meanwhile.
    const read = gate.read(async () => {
      await settle(3);
      log.push("read done");
    });
    expect(await hashed).toMatch(/^\$scrypt\$ln=14,r=8,p=1,k=5\$/);
    await read;
    expect(log).toEqual([
      "lane done",
      "read done",
      "next lane",
      ...["lane done", "next lane", "lane done", "next lane", "lane done", "next lane"],
    ]);
  });

  it("reads that never stop delay a lane by at most maxReadWaitMs each time, never forever", async () => {
    const gate = new HashGate({ maxReadWaitMs: 1, graceMs: 0 });
    const log: string[] = [];
    void gate.read(() => new Promise<never>(() => {}));
    const h = twoLaneHash(log, "login");
    const hashed = gate.run(h.hash);
    await settle();
    h.endLane1();
    expect(await hashed).toBe("login");
    expect(gate.readsInFlight).toBe(1);
  });
});

describe("hash gate: under a storm, reads get at least half of the thread", () => {
  it("after a lane during which a read arrived, the next lane waits as long as that lane ran", async () => {
    await onFakeTimers(async () => {
      const gate = new HashGate({ maxReadWaitMs: 60_000, graceMs: 0, restRatio: 1 });
      const log: string[] = [];
      const h = twoLaneHash(log, "login");
      const hashed = gate.run(h.hash);
      await vi.advanceTimersByTimeAsync(80); // lane 1 holds the thread for 80 ms
      await gate.read(async () => "me"); // a signed-in user's read comes in meanwhile
      h.endLane1();
      await vi.advanceTimersByTimeAsync(70);
      expect(log).toEqual(["login lane 1"]); // resting: the thread is the readers'
      await vi.advanceTimersByTimeAsync(20);
      expect(log).toEqual(["login lane 1", "login lane 2"]);
      expect(await hashed).toBe("login");
    });
  });

  it("a read seen only before the lane (reads now and then) costs the next lane no rest", async () => {
    await onFakeTimers(async () => {
      const gate = new HashGate({ maxReadWaitMs: 60_000, graceMs: 0, restRatio: 1 });
      const log: string[] = [];
      await gate.read(async () => "an earlier read");
      await vi.advanceTimersByTimeAsync(5);
      const h = twoLaneHash(log, "login");
      const hashed = gate.run(h.hash);
      await vi.advanceTimersByTimeAsync(80);
      h.endLane1();
      await vi.advanceTimersByTimeAsync(1);
      expect(log).toEqual(["login lane 1", "login lane 2"]);
      expect(await hashed).toBe("login");
    });
  });

  it("the rest is bounded: a lane of seconds (a loaded machine) is followed by at most 100 ms", async () => {
    await onFakeTimers(async () => {
      const gate = new HashGate({ maxReadWaitMs: 60_000, graceMs: 0, restRatio: 1 });
      const log: string[] = [];
      const h = twoLaneHash(log, "login");
      const hashed = gate.run(h.hash);
      await vi.advanceTimersByTimeAsync(3_000);
      await gate.read(async () => "me");
      h.endLane1();
      await vi.advanceTimersByTimeAsync(110);
      expect(log).toEqual(["login lane 1", "login lane 2"]);
      expect(await hashed).toBe("login");
    });
  });
});

/** Runs `fn` with faked timers and Date, restoring the real ones even when it throws. */
async function onFakeTimers(fn: () => Promise<void>): Promise<void> {
  vi.useFakeTimers();
  try {
    await fn();
  } finally {
    vi.useRealTimers();
  }
}
