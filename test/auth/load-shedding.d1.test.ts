// Load shedding (API.md "Load shedding"): password checks go one at a time through the isolate's hash
// gate; when too many wait, a sign-in answers 503 `overloaded` with Retry-After, while authenticated reads
// are never shed. The hasher is the cheap test hasher, held by the test while "hashing".
// D1 only: the gate is per-isolate CPU scheduling, independent of the store. On the pg-redis project the
// second test timed out intermittently (about 1 run in 3); that is under investigation (see issue 18's
// note) and must not be papered over by a longer timeout.
import { describe, expect, it } from "vitest";
import { gatedHasher, HashGate } from "../../src/auth/hash-gate";
import type { PasswordHasher } from "../../src/auth/password";
import { auditActions, createVerifiedUser, testClient } from "../helpers";
import { testHasher } from "../support/test-hasher";

async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** The test hasher, except that while `hold` is on, each verification waits for `releaseOne()`. */
function holdableHasher() {
  let hold = false;
  let verifying = 0;
  const held: (() => void)[] = [];
  const hasher: PasswordHasher = {
    hash: (password) => testHasher.hash(password),
    async verify(password, stored) {
      verifying++;
      if (hold) await new Promise<void>((resolve) => held.push(resolve));
      return testHasher.verify(password, stored);
    },
    dummyHash: testHasher.dummyHash,
  };
  return {
    hasher,
    verifications: () => verifying,
    hold: (on: boolean) => {
      hold = on;
    },
    held: () => held.length,
    releaseOne: () => held.shift()!(),
  };
}

describe("load shedding", () => {
  it("does not count a shed sign-in toward the account throttle", async () => {
    const gate = new HashGate({ maxQueued: 0, retryAfterSeconds: 1 });
    const slow = holdableHasher();
    const client = testClient({ hashGate: gate, passwords: gatedHasher(slow.hasher, gate) });
    const user = await createVerifiedUser(client);
    const other = await createVerifiedUser(client);

    // Another account's sign-in holds the gate; a dozen wrong guesses for `user` meanwhile are all shed.
    slow.hold(true);
    const running = client.call("POST", "/auth/login", {
      json: { email: other.email, password: other.password },
    });
    for (let i = 0; i < 50 && slow.held() === 0; i++) await settle();
    expect(slow.held()).toBe(1);
    for (let i = 0; i < 12; i++) {
      const shed = await client.call("POST", "/auth/login", {
        json: { email: user.email, password: `wrong-${i}-password` },
      });
      expect(shed.status).toBe(503);
    }
    slow.hold(false);
    slow.releaseOne();
    expect((await running).status).toBe(200);

    // Twelve shed attempts would have locked the account had they been counted (the lock comes at 10).
    const right = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: user.password },
    });
    expect(right.status).toBe(200);
  });

  it("sheds a sign-in beyond the queue with 503 overloaded + Retry-After; /auth/me still answers", async () => {
    const gate = new HashGate({ maxQueued: 1, retryAfterSeconds: 3 });
    const slow = holdableHasher();
    const client = testClient({ hashGate: gate, passwords: gatedHasher(slow.hasher, gate) });
    const user = await createVerifiedUser(client);
    const before = slow.verifications();
    const login = () =>
      client.call("POST", "/auth/login", { json: { email: user.email, password: user.password } });

    slow.hold(true);
    const running = login();
    const queued = login();
    for (let i = 0; i < 50 && !(slow.held() === 1 && gate.queued === 1); i++) await settle();
    expect([slow.held(), gate.queued]).toEqual([1, 1]);

    const shed = await login();
    expect(shed.status).toBe(503);
    expect(shed.headers.get("Content-Type")).toContain("application/problem+json");
    expect(shed.headers.get("Retry-After")).toBe("3");
    expect(shed.body).toMatchObject({ code: "overloaded", status: 503 });
    // The shed request never reached the hasher.
    expect(slow.verifications()).toBe(before + 1);

    // Authenticated reads are never shed, and need no hash.
    const me = await client.call("GET", "/auth/me", { token: user.tokens.access_token });
    expect(me.status).toBe(200);
    expect(me.body.email).toBe(user.email);

    slow.releaseOne();
    expect((await running).status).toBe(200);
    for (let i = 0; i < 50 && slow.held() === 0; i++) await settle();
    slow.releaseOne();
    slow.hold(false);
    expect((await queued).status).toBe(200);
    expect(slow.verifications()).toBe(before + 2);

    // A shed sign-in is neither a failed login nor a sign-in: the audit shows the three real ones only.
    const actions = await auditActions(user.id);
    expect(actions.filter((a) => a === "login_succeeded")).toHaveLength(3);
    expect(actions).not.toContain("login_failed");
  });

  it("a registration is shed the same way and creates nothing", async () => {
    const gate = new HashGate({ maxQueued: 0 });
    let release!: () => void;
    const blocking: PasswordHasher = {
      ...testHasher,
      hash: async (password) => {
        await new Promise<void>((resolve) => (release = resolve));
        return testHasher.hash(password);
      },
    };
    const client = testClient({ hashGate: gate, passwords: gatedHasher(blocking, gate) });
    const body = (email: string) => ({ json: { email, password: "a-long-enough-passphrase-1" } });
    const first = client.call("POST", "/auth/register", body(`first-${crypto.randomUUID()}@example.com`));
    for (let i = 0; i < 50 && !gate.running; i++) await settle();
    const email = `shed-${crypto.randomUUID()}@example.com`;
    const shed = await client.call("POST", "/auth/register", body(email));
    expect(shed.status).toBe(503);
    expect(shed.body.code).toBe("overloaded");
    expect(client.mailbox.to(email)).toHaveLength(0);
    release();
    expect((await first).status).toBe(202);
  });
});
