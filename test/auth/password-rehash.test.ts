// Hashes of the earlier formats (one call `$scrypt$ln=15,r=8,p=3$`, three 32 MiB lanes
// `$scrypt$ln=15,r=8,p=1,k=3$`) keep signing in, and the first successful sign-in rewrites them as
// today's five chained lanes (src/auth/password.ts); over HTTP, both backends.
import { scryptSync } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import * as password from "../../src/auth/password";
import { storedPasswordHash, testClient, userWithPasswordHash } from "../helpers";

const LEGACY_PASSWORD = "a-legacy-passphrase-42";

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
const OPTIONS = { r: 8, maxmem: 64 * 1024 * 1024 };

function legacyHash(pw: string): string {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = scryptSync(pw, salt, 32, { ...OPTIONS, N: 2 ** 15, p: 3 });
  return `$scrypt$ln=15,r=8,p=3$${b64(salt)}$${b64(key)}`;
}

/** The previous chained format: three lanes of N=2^15 (each twice as long as today's). */
function threeLaneHash(pw: string): string {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  let key = scryptSync(pw, salt, 32, { ...OPTIONS, N: 2 ** 15, p: 1 });
  for (let i = 2; i <= 3; i++)
    key = scryptSync(pw, Buffer.concat([salt, key]), 32, { ...OPTIONS, N: 2 ** 15, p: 1 });
  return `$scrypt$ln=15,r=8,p=1,k=3$${b64(salt)}$${b64(key)}`;
}

const TODAY = /^\$scrypt\$ln=14,r=8,p=1,k=5\$/;

/** Waits for the sign-in's deferred rewrite to today's format; the new hash verifies and is current. */
async function rewrittenToToday(userId: string): Promise<string> {
  await vi.waitFor(async () => expect(await storedPasswordHash(userId)).toMatch(TODAY), { timeout: 10_000 });
  const rewritten = (await storedPasswordHash(userId))!;
  expect(await password.verifyPassword(LEGACY_PASSWORD, rewritten)).toEqual({ ok: true, needsRehash: false });
  return rewritten;
}

describe("rehash of one-call scrypt hashes at sign-in", () => {
  it("a p=3 hash signs in and is rewritten as five chained lanes; a wrong password rewrites nothing", async () => {
    const hash = legacyHash(LEGACY_PASSWORD);
    const user = await userWithPasswordHash(hash, "rehash");
    const client = testClient({ passwords: password.scryptHasher });

    const wrong = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: "not-the-one-1" },
    });
    expect(wrong.status).toBe(401);
    expect(await storedPasswordHash(user.id)).toBe(hash);

    const res = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: LEGACY_PASSWORD },
    });
    expect(res.status).toBe(200);
    const rewritten = await rewrittenToToday(user.id);

    // The new hash signs in, and is not rewritten again.
    const again = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: LEGACY_PASSWORD },
    });
    expect(again.status).toBe(200);
    const me = await client.call("GET", "/auth/me", { token: again.body.access_token });
    expect(me.body).toMatchObject({ email: user.email });
    expect(await storedPasswordHash(user.id)).toBe(rewritten);
  }, 30_000);

  it("a three-lane ln=15 hash signs in and is rewritten as today's five shorter lanes", async () => {
    const hash = threeLaneHash(LEGACY_PASSWORD);
    const user = await userWithPasswordHash(hash, "rehash-k3");
    const client = testClient({ passwords: password.scryptHasher });
    const res = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: LEGACY_PASSWORD },
    });
    expect(res.status).toBe(200);
    await rewrittenToToday(user.id);
  }, 30_000);
});
