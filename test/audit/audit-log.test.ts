import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { sanitizeMetadata } from "../../src/audit/record";
import { refreshSession } from "../../src/auth/sessions";
import { getConfig } from "../../src/config";
import { RequestDeps } from "../../src/deps";
import { hmacBase64url } from "../../src/lib/crypto";
import type { Database } from "../../src/storage/types";
import {
  auditEntries,
  createVerifiedUser,
  PASSWORD,
  testClient,
  tokenFromEmail,
  uniqueEmail,
} from "../helpers";
import { withFakeClock } from "../support/clock";
import { createAdmin, seedAudit, walk } from "../users/admin-helpers";

const UNKNOWN_ID = "00000000-0000-7000-8000-000000000000";

describe("reading audit logs: who may read what", () => {
  it("a user reads their own log under both paths, newest first, in the wire shape", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const token = user.tokens.access_token;
    const a = await client.call("GET", `/users/${user.id}/logs`, { token });
    const b = await client.call("GET", `/audit/users/${user.id}`, { token });
    expect(a.status).toBe(200);
    expect(b.body).toEqual(a.body);
    expect(a.body.items.map((e: { action: string }) => e.action)).toEqual([
      "login_succeeded",
      "email_verified",
      "register",
    ]);
    expect(a.body.items[0]).toEqual({
      id: expect.any(String),
      user_id: user.id,
      action: "login_succeeded",
      ip: null,
      user_agent: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      metadata: expect.any(Object),
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(a.body.next_cursor).toBeNull();
  });

  it("another user gets the same 403 for an existing and a non-existent id; no token gets 401", async () => {
    const client = testClient();
    const alice = await createVerifiedUser(client);
    const bob = await createVerifiedUser(client);
    for (const path of ["/users/{id}/logs", "/audit/users/{id}"]) {
      const existing = await client.call("GET", path.replace("{id}", alice.id), {
        token: bob.tokens.access_token,
      });
      const missing = await client.call("GET", path.replace("{id}", UNKNOWN_ID), {
        token: bob.tokens.access_token,
      });
      expect(existing.status).toBe(403);
      expect(missing.status).toBe(403);
      const strip = (b: Record<string, unknown>) => ({ ...b, request_id: undefined });
      expect(strip(missing.body)).toEqual(strip(existing.body));
      expect((await client.call("GET", path.replace("{id}", alice.id))).status).toBe(401);
    }
  });

  it("an admin reads anyone's log, gets 404 for an unknown id, and queries GET /audit", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const user = await createVerifiedUser(client);
    const token = admin.tokens.access_token;
    const logs = await client.call("GET", `/users/${user.id}/logs`, { token });
    expect(logs.status).toBe(200);
    expect(logs.body.items.every((e: { user_id: string }) => e.user_id === user.id)).toBe(true);
    expect((await client.call("GET", `/users/${UNKNOWN_ID}/logs`, { token })).status).toBe(404);
    expect((await client.call("GET", `/audit/users/${UNKNOWN_ID}`, { token })).status).toBe(404);
    const all = await client.call("GET", `/audit?user_id=${user.id}`, { token });
    expect(all.body.items).toEqual(logs.body.items);
  });

  it("no route edits or deletes entries", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const [entry] = await auditEntries(admin.id);
    const token = admin.tokens.access_token;
    for (const method of ["DELETE", "PATCH", "PUT", "POST"]) {
      for (const path of [
        "/audit",
        `/audit/${entry!.id}`,
        `/audit/users/${admin.id}`,
        `/users/${admin.id}/logs`,
      ]) {
        const res = await client.call(method, path, { token, json: {} });
        expect([404, 405], `${method} ${path}`).toContain(res.status);
      }
    }
    expect((await auditEntries(admin.id)).map((e) => e.id)).toContain(entry!.id);
  });
});

describe("audit queries: pagination and filters", () => {
  it("walks 23 entries 5 at a time with no duplicates or gaps, ties broken by id", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const base = Date.now() - 3_600_000;
    const seeded = await seedAudit(
      Array.from({ length: 23 }, (_, i) => ({
        userId: user.id,
        action: "token_refreshed",
        at: new Date(base + Math.floor(i / 3) * 1000),
      })),
    );
    const expected = [...seeded]
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .map((e) => e.id);

    const { pages, ids } = await walk(
      client,
      `/users/${user.id}/logs?limit=5&action=token_refreshed`,
      user.tokens.access_token,
    );
    expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 3]);
    expect(ids).toEqual(expected);
  });

  it("filters by an action list and by since/until (inclusive), on /audit with user_id", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const target = crypto.randomUUID();
    const t0 = Date.UTC(2026, 0, 10, 12);
    const [failed, succeeded, logout] = await seedAudit([
      { userId: target, action: "login_failed", at: new Date(t0) },
      { userId: target, action: "login_succeeded", at: new Date(t0 + 60_000) },
      { userId: target, action: "logout", at: new Date(t0 + 120_000) },
    ]);
    const token = admin.tokens.access_token;
    const ids = async (query: string) => {
      const res = await client.call("GET", `/audit?user_id=${target}&${query}`, { token });
      expect(res.status, query).toBe(200);
      return res.body.items.map((e: { id: string }) => e.id);
    };
    expect(await ids("action=login_failed,logout")).toEqual([logout!.id, failed!.id]);
    expect(await ids("action=login_succeeded")).toEqual([succeeded!.id]);
    expect(await ids(`since=${new Date(t0 + 60_000).toISOString()}`)).toEqual([logout!.id, succeeded!.id]);
    expect(await ids(`until=${new Date(t0 + 60_000).toISOString()}`)).toEqual([succeeded!.id, failed!.id]);
    expect(
      await ids(`since=${encodeURIComponent("2026-01-10T13:00:30+01:00")}&until=2026-01-10T12:01:30.000Z`),
    ).toEqual([succeeded!.id]);
    expect(await ids("since=2026-01-11")).toEqual([]);
  });

  it("answers 422 on unknown actions, garbage times, since after until and forged cursors", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const token = admin.tokens.access_token;
    for (const query of [
      "action=drop_table",
      "action=login_failed,nope",
      "action=login_failed%27%3B--",
      "since=yesterday",
      "until=2026-13-45T00:00:00Z",
      "since=1700000000",
      "since=2026-02-01&until=2026-01-01",
      "cursor=%7B%7D",
      "limit=0",
    ]) {
      const res = await client.call("GET", `/audit?${query}`, { token });
      expect(res.status, query).toBe(422);
      expect(res.body.code).toBe("validation_error");
    }
  });

  it("records failed logins of unknown emails with user_id null and an HMAC, not the email", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const email = uniqueEmail("ghost");
    const since = new Date(Date.now() - 1000).toISOString();
    const login = await client.call("POST", "/auth/login", {
      json: { email, password: "Wrong-password-123" },
      headers: { "CF-Connecting-IP": "192.0.2.44", "User-Agent": "curl/8" },
    });
    expect(login.status).toBe(401);

    const res = await client.call("GET", `/audit?action=login_failed&since=${since}`, {
      token: admin.tokens.access_token,
    });
    const emailHash = await hmacBase64url(getConfig(env).SECRET_KEY, "audit-email", email.toLowerCase());
    const entry = res.body.items.find(
      (e: { metadata: { email_hash?: string } }) => e.metadata.email_hash === emailHash,
    );
    expect(entry).toMatchObject({
      user_id: null,
      action: "login_failed",
      ip: "192.0.2.44",
      user_agent: "curl/8",
      metadata: { reason: "unknown_email", method: "password", email_hash: emailHash },
    });
    expect(res.text).not.toContain(email);
    expect(res.text).not.toContain("Wrong-password-123");
  });
});

describe("audit entries hold no secrets", () => {
  it("sanitizeMetadata keeps only the allowlisted keys of the action", () => {
    expect(
      sanitizeMetadata("login_failed", {
        reason: "bad_password",
        password: "hunter2",
        token: "abc",
        email_hash: "h",
        code: "123456",
      }),
    ).toEqual({ reason: "bad_password", email_hash: "h" });
    expect(sanitizeMetadata("password_reset", { sessions: 2, new_password: "x", token: "t" })).toEqual({
      sessions: 2,
    });
    expect(sanitizeMetadata("user_updated", { changes: {}, actor_id: "a", secret: "s" })).toEqual({
      changes: {},
      actor_id: "a",
    });
    expect(sanitizeMetadata("email_verified", { token: "t" })).toEqual({});
  });

  it("real flows (bad logins, reset, refresh, password change) leave no password, token or code", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const secrets: string[] = [PASSWORD, user.tokens.access_token, user.tokens.refresh_token];

    const wrong = "Not-the-password-42";
    secrets.push(wrong);
    await client.call("POST", "/auth/login", { json: { email: user.email, password: wrong } });
    const refreshed = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: user.tokens.refresh_token },
    });
    secrets.push(refreshed.body.access_token, refreshed.body.refresh_token);
    // Reuse of the rotated token, after the grace window.
    await withFakeClock(
      () => client.call("POST", "/auth/refresh", { json: { refresh_token: user.tokens.refresh_token } }),
      Date.now() + 60_000,
    );

    await client.call("POST", "/auth/password/forgot", { json: { email: user.email } });
    const resetToken = tokenFromEmail(client.mailbox.last(user.email));
    const newPassword = "An0ther-correct-horse!";
    secrets.push(resetToken, newPassword);
    expect(
      (
        await client.call("POST", "/auth/password/reset", {
          json: { token: resetToken, new_password: newPassword },
        })
      ).status,
    ).toBe(200);
    const login = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: newPassword },
    });
    secrets.push(login.body.access_token, login.body.refresh_token);
    const changed = "Th1rd-correct-horse-battery";
    secrets.push(changed);
    await client.call("POST", "/auth/password/change", {
      token: login.body.access_token,
      json: { current_password: newPassword, new_password: changed },
    });

    const entries = await auditEntries(user.id);
    expect(entries.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        "login_failed",
        "token_refreshed",
        "refresh_token_reused",
        "password_reset_requested",
        "password_reset",
        "password_changed",
      ]),
    );
    const dump = JSON.stringify(entries);
    for (const secret of secrets) expect(dump).not.toContain(secret);
    expect(dump).not.toMatch(/scrypt|password_hash|"token"|"code"/i);
  });
});

describe("a failed audit write", () => {
  /** Real deps whose audit append rejects, as when D1 refuses the write. */
  class FailingAuditDeps extends RequestDeps {
    override get db(): Database {
      const real = super.db;
      const audit = {
        append: () => Promise.reject(new Error("D1_ERROR: disk I/O error")),
        list: real.audit.list.bind(real.audit),
        deleteOlderThan: real.audit.deleteOlderThan.bind(real.audit),
      };
      return new Proxy(real, { get: (t, p) => (p === "audit" ? audit : Reflect.get(t, p)) });
    }
  }

  it("does not fail the operation, and is logged loudly", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const meta = { ip: null, userAgent: null, requestId: "test" };
      // A rotation writes its entry in its own transaction; the retry inside the grace window is a
      // deferred entry, the kind this is about.
      const first = await client.call("POST", "/auth/refresh", {
        json: { refresh_token: user.tokens.refresh_token },
      });
      expect(first.status).toBe(200);
      const deps = new FailingAuditDeps(getConfig(env), env, {}, undefined);
      const tokens = await refreshSession(deps, user.tokens.refresh_token, meta);
      await deps.close();
      expect(tokens.refreshToken).toBe((first.body as { refresh_token: string }).refresh_token);

      expect((await client.call("GET", "/auth/me", { token: tokens.accessToken })).status).toBe(200);
      const logged = errors.mock.calls.map((c) => String(c[0]));
      expect(logged.some((l) => l.includes("deferred task failed: audit token_refreshed"))).toBe(true);
      expect(logged.join("\n")).not.toContain(tokens.refreshToken);
      const refreshed = (await auditEntries(user.id)).filter((e) => e.action === "token_refreshed");
      expect(refreshed.map((e) => e.metadata)).toEqual([{ grace: false }]);
    } finally {
      errors.mockRestore();
    }
  });
});
