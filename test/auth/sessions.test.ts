import { describe, expect, it } from "vitest";
import { auditActions, auditEntries, createVerifiedUser, PASSWORD, testClient } from "../helpers";

describe("logout and sessions", () => {
  it("logout kills both tokens of the session", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const res = await client.call("POST", "/auth/logout", { token: user.tokens.access_token });
    expect(res.status).toBe(204);
    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(401);
    const refresh = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: user.tokens.refresh_token },
    });
    expect(refresh.status).toBe(401);
    expect(await auditActions(user.id)).toContain("logout");
  });

  it("logout with a refresh token of another own session revokes that one too, never someone else's", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const second = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    const stranger = await createVerifiedUser(client);

    const mixed = await client.call("POST", "/auth/logout", {
      token: user.tokens.access_token,
      json: { refresh_token: stranger.tokens.refresh_token },
    });
    expect(mixed.status).toBe(204);
    // The stranger's session is untouched.
    const theirs = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: stranger.tokens.refresh_token },
    });
    expect(theirs.status).toBe(200);
    // The user's second session is still alive: only the caller's own session went.
    expect((await client.call("GET", "/auth/me", { token: second.body.access_token })).status).toBe(200);

    const third = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    const both = await client.call("POST", "/auth/logout", {
      token: third.body.access_token,
      json: { refresh_token: second.body.refresh_token },
    });
    expect(both.status).toBe(204);
    for (const t of [second.body, third.body]) {
      expect((await client.call("GET", "/auth/me", { token: t.access_token })).status).toBe(401);
      expect(
        (await client.call("POST", "/auth/refresh", { json: { refresh_token: t.refresh_token } })).status,
      ).toBe(401);
    }
    const logouts = (await auditEntries(user.id)).filter((e) => e.action === "logout");
    expect(logouts).toHaveLength(3);

    const fourth = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    // A malformed body is refused before anything is revoked.
    const wrongType = await client.call("POST", "/auth/logout", {
      token: fourth.body.access_token,
      json: { refresh_token: 42 },
    });
    expect(wrongType.status).toBe(422);
    const unknown = await client.call("POST", "/auth/logout", {
      token: fourth.body.access_token,
      json: { refresh_token: "not-a-token-of-anyone-at-all-0123456789" },
    });
    expect(unknown.status).toBe(204);
    expect((await client.call("GET", "/auth/me", { token: fourth.body.access_token })).status).toBe(401);
  });

  it("logout/all revokes every session", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const other = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    expect((await client.call("POST", "/auth/logout/all", { token: user.tokens.access_token })).status).toBe(
      204,
    );
    for (const t of [user.tokens, other.body]) {
      expect((await client.call("GET", "/auth/me", { token: t.access_token })).status).toBe(401);
      expect(
        (await client.call("POST", "/auth/refresh", { json: { refresh_token: t.refresh_token } })).status,
      ).toBe(401);
    }
    expect(await auditActions(user.id)).toContain("logout_all");
  });

  it("lists sessions with the current one marked, and revokes another by id", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const other = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
      headers: {
        "CF-Connecting-IP": "203.0.113.7",
        "User-Agent": "phone",
        "X-Forwarded-For": "198.51.100.1",
      },
    });
    const list = await client.call("GET", "/auth/sessions", { token: user.tokens.access_token });
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(2);
    const mine = list.body.items.find((s: { current: boolean }) => s.current);
    const theirs = list.body.items.find((s: { current: boolean }) => !s.current);
    expect(theirs).toMatchObject({ ip: "203.0.113.7", user_agent: "phone" });
    expect(Object.keys(mine).sort()).toEqual([
      "created_at",
      "current",
      "id",
      "ip",
      "last_used_at",
      "user_agent",
    ]);

    const del = await client.call("DELETE", `/auth/sessions/${theirs.id}`, {
      token: user.tokens.access_token,
    });
    expect(del.status).toBe(204);
    expect((await client.call("GET", "/auth/me", { token: other.body.access_token })).status).toBe(401);
    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(200);
    expect(await auditActions(user.id)).toContain("session_revoked");
  });

  it("answers 404 for another user's session", async () => {
    const client = testClient();
    const a = await createVerifiedUser(client);
    const b = await createVerifiedUser(client);
    const bList = await client.call("GET", "/auth/sessions", { token: b.tokens.access_token });
    const res = await client.call("DELETE", `/auth/sessions/${bList.body.items[0].id}`, {
      token: a.tokens.access_token,
    });
    expect(res.status).toBe(404);
    expect((await client.call("GET", "/auth/me", { token: b.tokens.access_token })).status).toBe(200);
  });
});
