import { beforeEach, describe, expect, it } from "vitest";
import {
  auditActions,
  auditEntries,
  createVerifiedUser,
  PASSWORD,
  type TestClient,
  testClient,
  tokenFromEmail,
  uniqueEmail,
} from "../helpers";
import { type FakeClock, fakeClock } from "../support/clock";

const T0 = new Date("2026-11-25T10:00:00.000Z").getTime();
let clock: FakeClock;
const advance = (ms: number) => clock.advance(ms);

// test/setup.ts restores the real clock after each test.
beforeEach(() => {
  clock = fakeClock(T0 + Math.floor(Math.random() * 1_000_000));
});

const login = (client: TestClient, email: string, password: string) =>
  client.call("POST", "/auth/login", { json: { email, password } });

async function fail(client: TestClient, email: string, times: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < times; i++) statuses.push((await login(client, email, "wrong-password-123")).status);
  return statuses;
}

const throttleMails = (client: TestClient, email: string) =>
  client.mailbox.to(email).filter((m) => m.subject.includes("Unusual sign-in"));

// Each sign-in costs a real scrypt; the cap test makes ~20 of them.
describe("per-account login throttle", { timeout: 90_000 }, () => {
  it("throttles after 10 failures, even the right password gets 429, and emails the owner once", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);

    expect(await fail(client, user.email, 10)).toEqual(Array(10).fill(401));
    const right = await login(client, user.email, PASSWORD);
    expect(right.status).toBe(429);
    expect(right.headers.get("Content-Type")).toBe("application/problem+json; charset=utf-8");
    expect(Number(right.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(Number(right.headers.get("Retry-After"))).toBeLessThanOrEqual(60);
    expect(right.text).not.toContain("access_token");

    expect(await auditActions(user.id)).toContain("login_throttled");
    const mails = throttleMails(client, user.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.text).toContain("https://auth.example.test/auth/password/reset?token=");

    // The next episode step: 2 minutes; still only one email.
    advance(61_000);
    expect(await fail(client, user.email, 1)).toEqual([401]);
    const second = await login(client, user.email, PASSWORD);
    expect(second.status).toBe(429);
    expect(Number(second.headers.get("Retry-After"))).toBeGreaterThan(60);
    expect(Number(second.headers.get("Retry-After"))).toBeLessThanOrEqual(120);
    expect(throttleMails(client, user.email)).toHaveLength(1);
  });

  it("grows the delay 1, 2, 4, 8 then caps it at 15 minutes, so an attacker cannot lock anyone out for good", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    await fail(client, user.email, 9);
    const delays: number[] = [];
    for (let step = 0; step < 7; step++) {
      expect(await fail(client, user.email, 1)).toEqual([401]);
      const blocked = await login(client, user.email, "wrong-password-123");
      expect(blocked.status).toBe(429);
      const seconds = Number(blocked.headers.get("Retry-After"));
      delays.push(seconds);
      advance(seconds * 1000 + 1);
    }
    expect(delays).toEqual([60, 120, 240, 480, 900, 900, 900]);

    // Once the delay has passed, the owner's right password works and clears the count.
    expect((await login(client, user.email, PASSWORD)).status).toBe(200);
    expect(await fail(client, user.email, 9)).toEqual(Array(9).fill(401));
    expect((await login(client, user.email, PASSWORD)).status).toBe(200);
  });

  it("throttles unknown emails exactly like known ones (no enumeration)", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const ghost = uniqueEmail("ghost");

    const known = await fail(client, user.email, 11);
    const unknown = await fail(client, ghost, 11);
    expect(unknown).toEqual(known);
    expect(unknown.slice(-1)).toEqual([429]);

    const a = await login(client, user.email, "x-wrong-password");
    const b = await login(client, ghost, "x-wrong-password");
    expect(b.status).toBe(a.status);
    expect(b.body.code).toBe(a.body.code);
    expect(b.body.detail).toBe(a.body.detail);
    expect(b.headers.get("Retry-After")).toBe(a.headers.get("Retry-After"));
    expect(client.mailbox.to(ghost)).toHaveLength(0);
  });

  it("keys on the address case-insensitively", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    await fail(client, user.email.toUpperCase(), 10);
    expect((await login(client, user.email, PASSWORD)).status).toBe(429);
  });

  it("a password reset from the emailed link lifts the throttle at once", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    await fail(client, user.email, 10);
    expect((await login(client, user.email, PASSWORD)).status).toBe(429);

    const token = tokenFromEmail(throttleMails(client, user.email)[0]!);
    const reset = await client.call("POST", "/auth/password/reset", {
      json: { token, new_password: "a-fresh-passphrase-after-attack" },
    });
    expect(reset.status).toBe(200);
    expect((await login(client, user.email, "a-fresh-passphrase-after-attack")).status).toBe(200);
  });

  it("a successful sign-in resets the count", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    await fail(client, user.email, 9);
    expect((await login(client, user.email, PASSWORD)).status).toBe(200);
    expect(await fail(client, user.email, 9)).toEqual(Array(9).fill(401));
    expect((await login(client, user.email, PASSWORD)).status).toBe(200);
    expect(throttleMails(client, user.email)).toHaveLength(0);
  });
});

describe("the account throttle counts each attempt before the password is looked at", {
  timeout: 120_000,
}, () => {
  it("a parallel burst from 60 IPs gets at most 10 password evaluations, then 429", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const guesses = [...Array.from({ length: 59 }, (_, i) => `wrong-guess-${i}-xyz`), PASSWORD];

    const answers = await Promise.all(
      guesses.map((password, i) =>
        client.call("POST", "/auth/login", {
          json: { email: user.email, password },
          headers: { "CF-Connecting-IP": `198.51.100.${i + 1}` },
        }),
      ),
    );

    const seen = answers.map((a) => `${a.status} ${a.status >= 500 ? a.text.slice(0, 80) : ""}`).join("\n");
    // A 503 decides nothing: `overloaded` (the hash gate's queue is full) is answered before the password
    // is looked at, `storage_unavailable` (a starved machine missed the store's connect deadline) before
    // anything is decided. Every other answer is an evaluation (200/401) or the throttle's 429.
    const unavailable = answers.filter((a) => a.status === 503);
    for (const a of unavailable) expect(a.text, seen).toMatch(/overloaded|storage_unavailable/);
    const evaluated = answers.filter((a) => a.status === 200 || a.status === 401);
    expect(evaluated.length, seen).toBeLessThanOrEqual(10);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length + unavailable.length, seen).toBe(60 - evaluated.length);
    expect(refused.length, seen).toBeGreaterThan(0);
    for (const r of refused) expect(Number(r.headers.get("Retry-After"))).toBeGreaterThan(0);
    // Every evaluation is visible: a failed guess is a login_failed entry, the right one a session.
    const entries = await auditEntries(user.id);
    const failed = entries.filter((e) => e.action === "login_failed").length;
    const right = answers[59]!;
    expect(failed + (right.status === 200 ? 1 : 0)).toBe(evaluated.length);
    expect([200, 429]).toContain(right.status);
    if (right.status === 429) expect(right.text).not.toContain("access_token");
  });

  it("failures of POST /auth/password/change count toward the same throttle as login", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const change = (current_password: string) =>
      client.call("POST", "/auth/password/change", {
        token: user.tokens.access_token,
        json: { current_password, new_password: "another-long-passphrase-7" },
      });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await change(`wrong-current-${i}`)).status);
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
    const right = await change(PASSWORD);
    expect(right.status).toBe(429);
    expect(Number(right.headers.get("Retry-After"))).toBeGreaterThan(0);
    // The password did not change, and sign-in is throttled too.
    expect((await login(client, user.email, PASSWORD)).status).toBe(429);
    expect(await auditActions(user.id)).not.toContain("password_changed");
  });
});
