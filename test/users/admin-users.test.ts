import { describe, expect, it } from "vitest";
import { auditEntries, createVerifiedUser, database, PASSWORD, testClient, uniqueEmail } from "../helpers";
import { createAdmin, seedUsers, setRole, walk } from "./admin-helpers";

const UNKNOWN_ID = "00000000-0000-7000-8000-000000000000";

describe("admin routes: authentication and authorization", () => {
  it("answers 401 without a token and 403 to a plain user on every admin route", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const routes: [string, string, unknown?][] = [
      ["GET", "/users"],
      ["GET", "/users/"],
      ["GET", `/users/${user.id}`],
      ["PATCH", `/users/${user.id}`, { role: "admin" }],
      ["GET", "/audit"],
    ];
    for (const [method, path, json] of routes) {
      const anon = await client.call(method, path, { json });
      expect(anon.status, `${method} ${path}`).toBe(401);
      const plain = await client.call(method, path, { json, token: user.tokens.access_token });
      expect(plain.status, `${method} ${path}`).toBe(403);
      expect(plain.body.code).toBe("forbidden");
    }
    // The user did not promote themself.
    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).body.role).toBe(
      "user",
    );
  });

  it("a demoted admin loses access on the next request with the same, still valid token", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const token = admin.tokens.access_token;
    expect((await client.call("GET", "/users", { token })).status).toBe(200);

    await setRole(admin.id, "user");

    expect((await client.call("GET", "/users", { token })).status).toBe(403);
    expect((await client.call("GET", "/audit", { token })).status).toBe(403);
    expect((await client.call("GET", "/auth/me", { token })).status).toBe(200);
  });

  it("ADMIN_EMAILS makes an account admin once it is verified", async () => {
    const email = uniqueEmail("boss");
    const client = testClient({}, { ADMIN_EMAILS: `someone@example.com, ${email.toUpperCase()}` });
    const admin = await createVerifiedUser(client, email);
    const res = await client.call("GET", `/users/${admin.id}`, { token: admin.tokens.access_token });
    expect(res.status).toBe(200);
    expect(res.body.role).toBe("admin");
  });
});

describe("GET /users", () => {
  it("walks every page newest first with no duplicates or gaps, ties broken by id", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const prefix = `walk-${crypto.randomUUID().slice(0, 8)}-`;
    const base = Date.now() - 60_000;
    // Pairs share a created_at, so the order and the cursor must fall back to the id.
    const seeded = await seedUsers(
      Array.from({ length: 23 }, (_, i) => `${prefix}${i}@example.com`),
      (i) => new Date(base + Math.floor(i / 2) * 1000),
    );
    const expected = [...seeded]
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .map((u) => u.id);

    const { pages, ids } = await walk(client, `/users?limit=5&q=${prefix}`, admin.tokens.access_token);

    expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 3]);
    expect(ids).toEqual(expected);
  });

  it("keeps its place when users sign up between pages", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const prefix = `live-${crypto.randomUUID().slice(0, 8)}-`;
    const base = Date.now() - 60_000;
    const seeded = await seedUsers(
      Array.from({ length: 6 }, (_, i) => `${prefix}${i}@example.com`),
      (i) => new Date(base + i * 1000),
    );
    const first = await client.call("GET", `/users?limit=3&q=${prefix}`, {
      token: admin.tokens.access_token,
    });
    await seedUsers([`${prefix}new@example.com`], () => new Date());
    const second = await client.call("GET", `/users?limit=3&q=${prefix}&cursor=${first.body.next_cursor}`, {
      token: admin.tokens.access_token,
    });
    const ids = [...first.body.items, ...second.body.items].map((u: { id: string }) => u.id);
    expect(ids).toEqual(seeded.map((u) => u.id).reverse());
    expect(second.body.next_cursor).toBeNull();
  });

  it("q is a case-insensitive email prefix in which % and _ are literal", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const tag = crypto.randomUUID().slice(0, 8);
    const [pct, _pctOther, under, _underOther] = await seedUsers(
      [`p${tag}%x@example.com`, `p${tag}ax@example.com`, `u${tag}_x@example.com`, `u${tag}bx@example.com`],
      () => new Date(),
    );
    const token = admin.tokens.access_token;
    const q = async (value: string) =>
      (await client.call("GET", `/users?q=${encodeURIComponent(value)}`, { token })).body.items.map(
        (u: { id: string }) => u.id,
      );

    expect(await q(`P${tag}%`)).toEqual([pct!.id]);
    expect(await q(`u${tag}_`)).toEqual([under!.id]);
    expect((await q(`p${tag}`)).length).toBe(2);
    expect(await q(`zz-nobody-${tag}`)).toEqual([]);
  });

  it("serves /users/ like /users and presents users without secrets", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const res = await client.call("GET", `/users/?q=${encodeURIComponent(admin.email)}`, {
      token: admin.tokens.access_token,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      items: [
        {
          id: admin.id,
          email: admin.email,
          full_name: "Test User",
          username: null,
          role: "admin",
          is_active: true,
          is_verified: true,
          two_factor_enabled: false,
          providers: ["password"],
          created_at: expect.stringMatching(/Z$/),
        },
      ],
      next_cursor: null,
    });
    expect(res.text).not.toContain("scrypt");
  });

  it("a crafted cursor continues strictly before its position: on a tie, between ids, at the range ends", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const token = admin.tokens.access_token;
    const prefix = `edge-${crypto.randomUUID().slice(0, 8)}-`;
    const at = new Date(Date.now() - 3_600_000);
    // Three users share one created_at (the tie the id breaks), one is a millisecond older, one newer.
    const [a, b, c, older, newer] = await seedUsers(
      [0, 1, 2, 3, 4].map((i) => `${prefix}${i}@example.com`),
      (i) => new Date(at.getTime() + (i === 3 ? -1 : i === 4 ? 1 : 0)),
    );
    const tied = [a!, b!, c!].map((u) => u.id).sort();
    const cursor = (createdAt: number, id: string): string =>
      btoa(JSON.stringify([createdAt, id]))
        .replace(/=+$/, "")
        .replace(/\+/g, "-")
        .replace(/\//g, "_");
    const page = async (cur: string): Promise<string[]> => {
      const res = await client.call("GET", `/users?limit=50&q=${prefix}&cursor=${cur}`, { token });
      expect(res.status, cur).toBe(200);
      return res.body.items.map((u: { id: string }) => u.id);
    };
    const t = at.getTime();
    // Exactly on the middle tied row: the lower tied id, then the older row; never the row itself.
    expect(await page(cursor(t, tied[1]!))).toEqual([tied[0], older!.id]);
    // On the tie but past every id (ids are printable ASCII, "~" sorts after them): all tied rows.
    expect(await page(cursor(t, "~"))).toEqual([...tied].reverse().concat(older!.id));
    // On the tie, before every id: only older rows.
    expect(await page(cursor(t, " "))).toEqual([older!.id]);
    // At the newest row itself: it is not repeated, every older row follows.
    expect(await page(cursor(t + 1, newer!.id))).toEqual([...tied].reverse().concat(older!.id));
    // The ends of the range a cursor may name: everything, then nothing.
    expect((await page(cursor(Date.UTC(9999, 11, 31, 23, 59, 59, 999), "~"))).length).toBe(5);
    expect(await page(cursor(-62_135_596_800_000, " "))).toEqual([]);
    // One past either end, a fraction, a number where the id goes, an id with NUL: 422, never a 500.
    for (const bad of [
      cursor(Date.UTC(9999, 11, 31, 23, 59, 59, 999) + 1, "x"),
      cursor(-62_135_596_800_001, "x"),
      btoa(JSON.stringify([t + 0.5, "x"])),
      btoa(JSON.stringify([t, 5])),
      btoa(JSON.stringify([t, "a\u0000b"])),
      btoa(JSON.stringify([t, "x".repeat(65)])),
    ]) {
      const res = await client.call("GET", `/users?q=${prefix}&cursor=${encodeURIComponent(bad)}`, { token });
      expect(res.status, bad).toBe(422);
      expect(res.body.code).toBe("validation_error");
    }
  });

  it("answers 422 on a bad limit or a forged cursor", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const token = admin.tokens.access_token;
    for (const query of ["limit=0", "limit=101", "limit=abc", "cursor=not-a-cursor", "cursor=W10"]) {
      const res = await client.call("GET", `/users?${query}`, { token });
      expect(res.status, query).toBe(422);
      expect(res.body.code).toBe("validation_error");
    }
    expect((await client.call("GET", "/users?limit=100", { token })).status).toBe(200);
  });
});

describe("GET /users/{id}", () => {
  it("returns the user to an admin and 404 for an unknown id", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const user = await createVerifiedUser(client);
    const res = await client.call("GET", `/users/${user.id}`, { token: admin.tokens.access_token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: user.id, email: user.email, role: "user" });
    const missing = await client.call("GET", `/users/${UNKNOWN_ID}`, { token: admin.tokens.access_token });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("not_found");
  });
});

describe("PATCH /users/{id}", () => {
  it("promotes a user, audits the change on the target, and ignores other fields", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const user = await createVerifiedUser(client);
    const res = await client.call("PATCH", `/users/${user.id}`, {
      token: admin.tokens.access_token,
      json: { role: "admin", email: "hijack@example.com", is_verified: false, password_hash: "x", id: "y" },
      headers: { "CF-Connecting-IP": "198.51.100.7", "User-Agent": "admin-console" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: user.id, email: user.email, role: "admin", is_verified: true });
    // The new role works at once, with the user's existing token.
    expect((await client.call("GET", "/users", { token: user.tokens.access_token })).status).toBe(200);

    const entry = (await auditEntries(user.id)).find((e) => e.action === "user_updated");
    expect(entry).toMatchObject({
      userId: user.id,
      ip: "198.51.100.7",
      userAgent: "admin-console",
      metadata: { changes: { role: { from: "user", to: "admin" } }, actor_id: admin.id },
    });
  });

  it("deactivation revokes every session; login then answers account_disabled; reactivation restores it", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const user = await createVerifiedUser(client);
    const second = (
      await client.call("POST", "/auth/login", { json: { email: user.email, password: PASSWORD } })
    ).body;

    const res = await client.call("PATCH", `/users/${user.id}`, {
      token: admin.tokens.access_token,
      json: { is_active: false },
    });
    expect(res.status).toBe(200);
    expect(res.body.is_active).toBe(false);

    for (const t of [user.tokens, second]) {
      expect((await client.call("GET", "/auth/me", { token: t.access_token })).status).toBe(401);
      expect((await client.call("GET", `/users/${user.id}/logs`, { token: t.access_token })).status).toBe(
        401,
      );
      const refresh = await client.call("POST", "/auth/refresh", {
        json: { refresh_token: t.refresh_token },
      });
      expect(refresh.status).toBe(401);
    }
    const login = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    expect(login.status).toBe(403);
    expect(login.body.code).toBe("account_disabled");
    const db = database();
    expect(await db.sessions.listActive(user.id, new Date())).toEqual([]);
    await db.close();

    const entry = (await auditEntries(user.id)).find((e) => e.action === "user_updated");
    expect(entry?.metadata).toEqual({
      changes: { is_active: { from: true, to: false } },
      actor_id: admin.id,
    });

    await client.call("PATCH", `/users/${user.id}`, {
      token: admin.tokens.access_token,
      json: { is_active: true },
    });
    const again = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    expect(again.status).toBe(200);
  });

  it("an admin cannot demote or deactivate themself", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const token = admin.tokens.access_token;
    for (const json of [{ role: "user" }, { is_active: false }, { role: "admin", is_active: false }]) {
      const res = await client.call("PATCH", `/users/${admin.id}`, { token, json });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("forbidden");
      expect(res.body.detail).toMatch(/cannot demote or deactivate themselves/);
    }
    const me = await client.call("GET", "/auth/me", { token });
    expect(me.body).toMatchObject({ role: "admin", is_active: true });
    // A no-op on oneself is fine.
    expect(
      (await client.call("PATCH", `/users/${admin.id}`, { token, json: { role: "admin" } })).status,
    ).toBe(200);
    expect((await auditEntries(admin.id)).map((e) => e.action)).not.toContain("user_updated");
  });

  it("another admin can demote an admin", async () => {
    const client = testClient();
    const a = await createAdmin(client);
    const b = await createAdmin(client);
    const res = await client.call("PATCH", `/users/${b.id}`, {
      token: a.tokens.access_token,
      json: { role: "user" },
    });
    expect(res.status).toBe(200);
    expect((await client.call("GET", "/users", { token: b.tokens.access_token })).status).toBe(403);
  });

  it("answers 404 for an unknown id and 422 for a bad value", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const user = await createVerifiedUser(client);
    const token = admin.tokens.access_token;
    const missing = await client.call("PATCH", `/users/${UNKNOWN_ID}`, { token, json: { role: "admin" } });
    expect(missing.status).toBe(404);
    for (const json of [{ role: "root" }, { is_active: "no" }]) {
      const res = await client.call("PATCH", `/users/${user.id}`, { token, json });
      expect(res.status).toBe(422);
    }
  });
});
