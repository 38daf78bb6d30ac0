import { describe, expect, it } from "vitest";
import { auditActions, createVerifiedUser, testClient } from "../helpers";
import { withFakeClock } from "../support/clock";

const refresh = (client: ReturnType<typeof testClient>, refresh_token: string) =>
  client.call("POST", "/auth/refresh", { json: { refresh_token } });

describe("refresh rotation", () => {
  it("rotates the refresh token and issues a working access token", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const first = await refresh(client, user.tokens.refresh_token);
    expect(first.status).toBe(200);
    expect(first.headers.get("Cache-Control")).toBe("no-store");
    expect(first.body.refresh_token).not.toBe(user.tokens.refresh_token);
    expect((await client.call("GET", "/auth/me", { token: first.body.access_token })).status).toBe(200);
    expect(await auditActions(user.id)).toContain("token_refreshed");
  });

  it("revokes the whole session when a rotated refresh token is reused after the grace window", async () => {
    await withFakeClock(async (clock) => {
      const client = testClient();
      const user = await createVerifiedUser(client);
      const first = await refresh(client, user.tokens.refresh_token);
      clock.advance(11_000);
      const second = await refresh(client, first.body.refresh_token);
      expect(second.status).toBe(200);

      const reuse = await refresh(client, user.tokens.refresh_token);
      expect(reuse.status).toBe(401);
      expect(reuse.body.code).toBe("invalid_token");
      expect((await refresh(client, second.body.refresh_token)).status).toBe(401);
      expect((await client.call("GET", "/auth/me", { token: second.body.access_token })).status).toBe(401);
      expect(await auditActions(user.id)).toContain("refresh_token_reused");
    });
  });

  it("gives the same new pair to the just-rotated token inside the 10 s grace window", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const a = await refresh(client, user.tokens.refresh_token);
    const b = await refresh(client, user.tokens.refresh_token);
    expect(b.status).toBe(200);
    expect(b.body.refresh_token).toBe(a.body.refresh_token);
    // The chain goes on: the shared successor is the live token.
    const c = await refresh(client, a.body.refresh_token);
    expect(c.status).toBe(200);
  });

  it("twenty parallel refreshes with one token yield exactly one chain", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => refresh(client, user.tokens.refresh_token)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    const successors = new Set(results.map((r) => r.body.refresh_token));
    expect(successors.size).toBe(1);
    const [next] = [...successors];
    expect((await refresh(client, next!)).status).toBe(200);
    const sessions = await client.call("GET", "/auth/sessions", { token: results[0]!.body.access_token });
    expect(sessions.body.items).toHaveLength(1);
  });

  it("rejects unknown tokens and expired sessions", async () => {
    const client = testClient({}, { REFRESH_TOKEN_EXPIRE_DAYS: "1" });
    expect((await refresh(client, "A".repeat(43))).status).toBe(401);
    const user = await createVerifiedUser(client);
    await withFakeClock(
      async () => {
        const res = await refresh(client, user.tokens.refresh_token);
        expect(res.status).toBe(401);
      },
      Date.now() + 86_400_000 + 1000,
    );
  });

  it("answers an access token sent as refresh_token with 401 invalid_token and changes nothing", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const before = await auditActions(user.id);
    const res = await refresh(client, user.tokens.access_token);
    expect(res.status).toBe(401);
    expect(res.headers.get("Content-Type")).toContain("application/problem+json");
    expect(res.body.code).toBe("invalid_token");
    // Nothing rotated, nothing revoked: the session's real refresh token still works once.
    expect(await auditActions(user.id)).toEqual(before);
    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(200);
    expect((await refresh(client, user.tokens.refresh_token)).status).toBe(200);
  });

  it("still answers a missing or empty refresh_token with 422", async () => {
    const client = testClient();
    expect((await client.call("POST", "/auth/refresh", { json: {} })).status).toBe(422);
    expect((await refresh(client, "")).status).toBe(422);
  });
});
