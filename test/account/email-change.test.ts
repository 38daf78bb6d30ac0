import { describe, expect, it } from "vitest";
import { hashToken } from "../../src/auth/tokens";
import { newId } from "../../src/lib/crypto";
import { requestEmailLogin, verifyCode, verifyLink } from "../email-login/support";
import {
  auditEntries,
  createVerifiedUser,
  PASSWORD,
  testClient,
  tokenFromEmail,
  uniqueEmail,
} from "../helpers";
import { confirm, requestChange, withDb } from "./support";

/** A clock of the app's own (Date stays real: Postgres and Redis sockets need real timers). */
function clock(start = Date.now()) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

describe("changing the email address", () => {
  it("mails a single-use link to the new address; confirming moves the account and notifies the old address", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const next = uniqueEmail("moved").replace("moved", "MoVed");
    const token = await requestChange(client, user, next);
    const mail = client.mailbox.last(next);
    expect(mail.text).toContain("https://auth.example.test/auth/email/change/confirm?token=");
    // Nothing moved yet, and only the hash is stored.
    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).body.email).toBe(
      user.email,
    );
    const stored = await withDb((db) => db.tokens.peek("email_change", token, new Date()));
    expect(stored).toBeNull();
    expect(
      await withDb(async (db) => db.tokens.peek("email_change", await hashToken(token), new Date())),
    ).toEqual({
      userId: user.id,
      data: { email: next },
    });

    const done = await confirm(client, token);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id: user.id, email: next, is_verified: true });
    expect(client.mailbox.last(user.email).subject).toBe("edge-auth: Your email address was changed");
    // Sign-in follows the address (any case); the old one no longer signs in.
    expect(
      (await client.call("POST", "/auth/login", { json: { email: next.toLowerCase(), password: PASSWORD } }))
        .status,
    ).toBe(200);
    expect(
      (await client.call("POST", "/auth/login", { json: { email: user.email, password: PASSWORD } })).status,
    ).toBe(401);
    // Single use.
    expect((await confirm(client, token)).status).toBe(400);
    const entries = await auditEntries(user.id);
    const actions = entries.map((e) => e.action);
    expect(actions).toContain("email_change_requested");
    expect(actions).toContain("email_changed");
    // No address and no token in any entry.
    const dump = JSON.stringify(entries);
    expect(dump).not.toContain(next);
    expect(dump.toLowerCase()).not.toContain(next.toLowerCase());
    expect(dump).not.toContain(token);
  });

  it("kills the account's outstanding verification, reset and email-login tokens (by id and by old address)", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    await client.call("POST", "/auth/password/forgot", { json: { email: user.email } });
    const reset = tokenFromEmail(client.mailbox.last(user.email));
    const now = new Date();
    const verifyHash = await hashToken(`verify-${newId()}`);
    // A pending email sign-in to the old address, made through the API (its row carries the address).
    const pending = await requestEmailLogin(client, user.email);
    await withDb(async (db) => {
      await db.tokens.create({
        tokenHash: verifyHash,
        purpose: "email_verification",
        userId: user.id,
        expiresAt: new Date(now.getTime() + 600_000),
        now,
      });
    });
    const token = await requestChange(client, user, uniqueEmail("fresh"));
    expect((await confirm(client, token)).status).toBe(200);

    const reused = await client.call("POST", "/auth/password/reset", {
      json: { token: reset, new_password: `${PASSWORD}-new` },
    });
    expect(reused.status).toBe(400);
    expect((await verifyLink(client, pending.token)).status).toBe(400);
    expect((await verifyCode(client, user.email, pending.code)).status).toBe(400);
    await withDb(async (db) => {
      expect(await db.tokens.peek("email_verification", verifyHash, new Date())).toBeNull();
    });
  });

  it("answers 202 alike for a taken address, sends nothing there, and refuses a confirm once the address is taken (409)", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const other = await createVerifiedUser(client);
    const before = client.mailbox.sent.length;
    const taken = await client.call("POST", "/auth/email/change", {
      token: user.tokens.access_token,
      json: { new_email: other.email.toUpperCase() },
    });
    const free = uniqueEmail("free");
    const open = await client.call("POST", "/auth/email/change", {
      token: user.tokens.access_token,
      json: { new_email: free },
    });
    expect(taken.status).toBe(202);
    expect(open.status).toBe(202);
    expect(taken.body.detail).toBe(open.body.detail);
    expect(client.mailbox.sent.slice(before).map((m) => m.to)).toEqual([free]);

    // Someone registers the address between the link and the confirmation.
    const token = tokenFromEmail(client.mailbox.last(free));
    await createVerifiedUser(client, free.toUpperCase());
    const res = await confirm(client, token);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("email_taken");
    const me = await client.call("GET", "/auth/me", { token: user.tokens.access_token });
    expect(me.body.email).toBe(user.email);
  });

  it("two accounts confirming the same new address at once: exactly one wins, the other gets 409", async () => {
    const client = testClient();
    const users = await Promise.all([createVerifiedUser(client), createVerifiedUser(client)]);
    const target = uniqueEmail("contested");
    // Two links to one address: the second request's email is the last one, so read both in order.
    const tokens: string[] = [];
    for (const u of users) tokens.push(await requestChange(client, u, target));
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => confirm(client, tokens[i % 2]!)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.every((s) => s === 200 || s === 409 || s === 400)).toBe(true);
    expect(statuses).toContain(409);
    const owners = await withDb((db) => db.users.findByEmail(target));
    const winner = results.find((r) => r.status === 200)!.body.id;
    expect(owners?.id).toBe(winner);
    const loser = users.find((u) => u.id !== winner)!;
    expect((await withDb((db) => db.users.findById(loser.id)))?.email).toBe(loser.email);
  });

  it("tokens are purpose-bound: a reset link does not confirm an address, an email-change link does not reset", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    await client.call("POST", "/auth/password/forgot", { json: { email: user.email } });
    const reset = tokenFromEmail(client.mailbox.last(user.email));
    const change = await requestChange(client, user, uniqueEmail("purpose"));
    expect((await confirm(client, reset)).status).toBe(400);
    const asReset = await client.call("POST", "/auth/password/reset", {
      json: { token: change, new_password: `${PASSWORD}-new` },
    });
    expect(asReset.status).toBe(400);
    expect((await client.call("POST", "/auth/verify", { json: { token: change } })).status).toBe(400);
    // Neither attempt spent the other link.
    expect((await confirm(client, change)).status).toBe(200);
  });

  it("60 parallel confirmations of one link: exactly one moves the account", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const next = uniqueEmail("sixty");
    const token = await requestChange(client, user, next);
    const results = await Promise.all(Array.from({ length: 60 }, () => confirm(client, token)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(59);
    expect((await auditEntries(user.id)).filter((e) => e.action === "email_changed")).toHaveLength(1);
    expect(
      client.mailbox.to(user.email).filter((m) => /email address was changed/.test(m.subject)),
    ).toHaveLength(1);
  });

  it("the GET page spends nothing; its form post confirms and answers with a page", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const next = uniqueEmail("page");
    const token = await requestChange(client, user, next);
    for (let i = 0; i < 3; i++) {
      const page = await client.call("GET", `/auth/email/change/confirm?token=${token}`);
      expect(page.status).toBe(200);
      expect(page.headers.get("Content-Type")).toContain("text/html");
      expect(page.text).toContain('action="/auth/email/change/confirm"');
    }
    expect((await withDb((db) => db.users.findById(user.id)))?.email).toBe(user.email);
    const posted = await client.call("POST", "/auth/email/change/confirm", { form: { token } });
    expect(posted.status).toBe(200);
    expect(posted.headers.get("Content-Type")).toContain("text/html");
    expect((await withDb((db) => db.users.findById(user.id)))?.email).toBe(next);
    const again = await client.call("POST", "/auth/email/change/confirm", { form: { token } });
    expect(again.status).toBe(400);
    expect(again.text).toContain("invalid, expired or already used");
  });

  it("needs a recent sign-in, valid input, a live link; only the newest link works; links expire after an hour", async () => {
    const time = clock();
    const client = testClient({ now: time.now });
    const user = await createVerifiedUser(client);
    for (const bad of [{}, { new_email: "not-an-address" }, { new_email: "a@b" }, { new_email: 42 }]) {
      const res = await client.call("POST", "/auth/email/change", {
        token: user.tokens.access_token,
        json: bad,
      });
      expect(res.status, JSON.stringify(bad)).toBe(422);
    }
    expect(
      (await client.call("POST", "/auth/email/change", { json: { new_email: uniqueEmail() } })).status,
    ).toBe(401);
    for (const bad of [
      {},
      { token: "short" },
      { token: "x".repeat(600) },
      { token: "a b c d e f g h i j k l" },
    ]) {
      const res = await client.call("POST", "/auth/email/change/confirm", { json: bad });
      expect(res.status, JSON.stringify(bad)).toBe(422);
    }
    expect((await confirm(client, "A".repeat(43))).status).toBe(400);

    const first = await requestChange(client, user, uniqueEmail("first"));
    const secondAddress = uniqueEmail("second");
    const second = await requestChange(client, user, secondAddress);
    expect((await confirm(client, first)).status).toBe(400);
    time.advance(61 * 60_000);
    expect((await confirm(client, second)).status).toBe(400);
    expect((await withDb((db) => db.users.findById(user.id)))?.email).toBe(user.email);

    // Past the reauthentication window (a refresh does not renew it): 403.
    const refreshed = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: user.tokens.refresh_token },
    });
    const stale = await client.call("POST", "/auth/email/change", {
      token: refreshed.body.access_token,
      json: { new_email: uniqueEmail() },
    });
    expect(stale.status).toBe(403);
    expect(stale.body.code).toBe("reauthentication_required");
  });
});
