import { describe, expect, it } from "vitest";
import { auditEntries, createVerifiedUser, database, testClient, uniqueEmail } from "../helpers";
import { pendingRows, requestEmailLogin, verifyCode, verifyLink, wrongCode } from "./support";

const statuses = (results: { status: number }[]): number[] => results.map((r) => r.status).sort();

describe("email sign-in under attack", () => {
  it("two parallel verifies of one link: exactly one gets tokens", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const { token } = await requestEmailLogin(client, user.email);
    const results = await Promise.all([verifyLink(client, token), verifyLink(client, token)]);
    expect(statuses(results)).toEqual([200, 400]);
    expect(results.find((r) => r.status === 400)?.body.code).toBe("invalid_token");
    const sessions = await database().sessions.listActive(user.id, new Date());
    // The password sign-in of createVerifiedUser, plus exactly one from the link.
    expect(sessions).toHaveLength(2);
    expect((await auditEntries(user.id)).filter((e) => e.action === "email_login")).toHaveLength(1);
  });

  it("two parallel verifies of one code: exactly one gets tokens", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const { code } = await requestEmailLogin(client, user.email);
    const results = await Promise.all([
      verifyCode(client, user.email, code),
      verifyCode(client, user.email, code),
    ]);
    expect(statuses(results)).toEqual([200, 400]);
    expect(results.find((r) => r.status === 400)?.body.code).toBe("invalid_code");
    expect(await database().sessions.listActive(user.id, new Date())).toHaveLength(2);
  });

  it("the link and the code raced against each other: exactly one gets tokens", async () => {
    const client = testClient();
    const email = uniqueEmail("linkvscode");
    const { token, code } = await requestEmailLogin(client, email);
    const results = await Promise.all([verifyLink(client, token), verifyCode(client, email, code)]);
    expect(statuses(results)).toEqual([200, 400]);
    // One new account, not two.
    const user = await database().users.findByEmail(email);
    expect(await database().sessions.listActive(user!.id, new Date())).toHaveLength(1);
  });

  it("5 wrong codes spend the code and its link", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const { token, code } = await requestEmailLogin(client, user.email);
    for (let i = 1; i <= 5; i++) {
      const res = await verifyCode(client, user.email, wrongCode(code, i));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("invalid_code");
    }
    expect((await verifyCode(client, user.email, code)).body.code).toBe("invalid_code");
    expect((await verifyLink(client, token)).body.code).toBe("invalid_token");
    const [row] = await pendingRows(user.email.toLowerCase());
    expect(Number(row!.attempts)).toBe(5);
    expect(row!.consumed_at).not.toBeNull();
  });

  it("4 wrong codes leave the right one working", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const { code } = await requestEmailLogin(client, user.email);
    for (let i = 1; i <= 4; i++)
      expect((await verifyCode(client, user.email, wrongCode(code, i))).status).toBe(400);
    expect((await verifyCode(client, user.email, code)).status).toBe(200);
  });

  it("60 parallel guesses get at most 5 checks: the right code among them cannot slip past the limit", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const { code } = await requestEmailLogin(client, user.email);
    const guesses = Array.from({ length: 60 }, (_, i) => wrongCode(code, i + 1));
    const results = await Promise.all(guesses.map((g) => verifyCode(client, user.email, g)));
    // Every guess is refused as a wrong code, or (a starved machine missing the store's connect deadline)
    // with a 503 that decided nothing; none signs in, and the row still counts at most 5 checks.
    const seen = results.map((r) => `${r.status} ${r.body?.code ?? ""}`).join("\n");
    const unavailable = results.filter((r) => r.status === 503 && r.body.code === "storage_unavailable");
    const refused = results.filter((r) => r.status === 400 && r.body.code === "invalid_code");
    expect(refused.length + unavailable.length, seen).toBe(60);
    expect(refused.length, seen).toBeGreaterThanOrEqual(5);
    const [row] = await pendingRows(user.email.toLowerCase());
    expect(Number(row!.attempts)).toBe(5);
    // Spent: the right code no longer works either.
    expect((await verifyCode(client, user.email, code)).status).toBe(400);
  });

  it("a code is bound to its address: the right digits for another address do nothing", async () => {
    const client = testClient();
    const victim = await createVerifiedUser(client);
    const attacker = uniqueEmail("attacker");
    const mine = await requestEmailLogin(client, attacker);
    await requestEmailLogin(client, victim.email);
    const res = await verifyCode(client, victim.email, mine.code);
    // Unless the two 6-digit codes happen to collide (1 in 10^6), this is a wrong guess.
    expect(res.status).toBe(400);
  });

  it("a new request replaces the pending link and code", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const first = await requestEmailLogin(client, user.email);
    const second = await requestEmailLogin(client, user.email);
    expect((await verifyLink(client, first.token)).body.code).toBe("invalid_token");
    const oldCode = await verifyCode(client, user.email, first.code);
    // The old code can only work if it equals the new one (1 in 10^6).
    if (first.code !== second.code) expect(oldCode.body.code).toBe("invalid_code");
    expect((await verifyLink(client, second.token)).status).toBe(200);
    const rows = await pendingRows(user.email.toLowerCase());
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.consumed_at !== null)).toBe(true);
  });

  it("parallel requests for one address leave exactly one live request", async () => {
    const client = testClient();
    const email = uniqueEmail("parallel");
    const results = await Promise.all(
      [1, 2, 3].map(() => client.call("POST", "/auth/email-login", { json: { email } })),
    );
    expect(results.every((r) => r.status === 202)).toBe(true);
    const live = (await pendingRows(email.toLowerCase())).filter((r) => r.consumed_at === null);
    expect(live).toHaveLength(1);
  });

  it("mails an address at most 5 times an hour, answering 202 throughout", async () => {
    const client = testClient();
    const email = uniqueEmail("flood");
    for (let i = 0; i < 8; i++) {
      const res = await client.call("POST", "/auth/email-login", { json: { email } });
      expect(res.status).toBe(202);
    }
    expect(client.mailbox.to(email)).toHaveLength(5);
    expect(await pendingRows(email.toLowerCase())).toHaveLength(5);
  });

  it("per IP: the 11th request a minute is 429 with Retry-After", async () => {
    const client = testClient({}, { RATE_LIMIT_ENABLED: "true" });
    const b = crypto.getRandomValues(new Uint8Array(3));
    const ip = `10.${b[0]}.${b[1]}.${b[2]! % 250}`;
    const call = () =>
      client.call("POST", "/auth/email-login", {
        json: { email: uniqueEmail("perip") },
        headers: { "CF-Connecting-IP": ip },
      });
    for (let i = 0; i < 10; i++) expect((await call()).status).toBe(202);
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe("rate_limited");
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(0);
  });

  it("answers the same for known and unknown addresses", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const known = await client.call("POST", "/auth/email-login", { json: { email: user.email } });
    const unknown = await client.call("POST", "/auth/email-login", {
      json: { email: uniqueEmail("nobody") },
    });
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(known.body).toEqual(unknown.body);
  });

  it("bad input is 4xx problem+json, never 500", async () => {
    const client = testClient();
    const bodies: unknown[] = [{ email: "not-an-address" }, { email: "" }, {}];
    for (const json of bodies) {
      const res = await client.call("POST", "/auth/email-login", { json });
      expect(res.status, JSON.stringify(json)).toBe(422);
    }
    const verifyBodies: unknown[] = [
      {},
      { token: "short" },
      { token: "x".repeat(600) },
      { token: "a".repeat(43), email: "a@example.com", code: "123456" },
      { email: "a@example.com" },
      { email: "nope", code: "123456" },
      { email: "a@example.com", code: "1".repeat(65) },
      { code: "123456" },
    ];
    for (const json of verifyBodies) {
      const res = await client.call("POST", "/auth/email-login/verify", { json });
      expect(res.status, JSON.stringify(json)).toBe(422);
      expect(res.headers.get("Content-Type")).toMatch(/problem\+json/);
    }
    // No body at all (found by the fuzz suite: it once reached the service as a 500).
    const empty = await client.call("POST", "/auth/email-login/verify");
    expect(empty.status).toBe(422);
    expect(empty.headers.get("Content-Type")).toMatch(/problem\+json/);
    const emptyForm = await client.call("POST", "/auth/email-login/verify", { form: {} });
    expect(emptyForm.status).toBe(422);
    // Well-formed but wrong: 400, and a malformed code never costs the owner an attempt.
    expect((await verifyLink(client, "a".repeat(43))).body.code).toBe("invalid_token");
    const user = await createVerifiedUser(client);
    const { code } = await requestEmailLogin(client, user.email);
    for (const junk of ["abcdef", "12345", "1234567", "12 34 5"]) {
      const res = await verifyCode(client, user.email, junk);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("invalid_code");
    }
    expect(Number((await pendingRows(user.email.toLowerCase()))[0]!.attempts)).toBe(0);
    expect((await verifyCode(client, user.email, code)).status).toBe(200);
  });

  it("EMAIL_LOGIN=false: every route is 404 and nothing is sent", async () => {
    const client = testClient({}, { EMAIL_LOGIN: "false" });
    const email = uniqueEmail("off");
    const requests = [
      client.call("POST", "/auth/email-login", { json: { email } }),
      client.call("GET", `/auth/email-login?token=${"a".repeat(43)}`),
      client.call("POST", "/auth/email-login/verify", { json: { token: "a".repeat(43) } }),
      client.call("POST", "/auth/email-login/verify", { json: { email, code: "123456" } }),
    ];
    for (const res of await Promise.all(requests)) {
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("not_found");
    }
    expect(client.mailbox.to(email)).toHaveLength(0);
    expect(await pendingRows(email.toLowerCase())).toHaveLength(0);
  });
});
