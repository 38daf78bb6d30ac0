import { createClient, memoryStorage, type StoredTokens } from "edge-auth/client";
import { describe, expect, it } from "vitest";
import { auditActions, BASE, createVerifiedUser, database, PASSWORD, testClient } from "../helpers";
import { fakeClock } from "../support/clock";
import { channelHub, service } from "./support";

/**
 * A token whose signature no longer verifies. The FIRST signature character is changed: all six of its
 * bits are signature bits, whereas the last character's low bits are base64url padding, so changing it
 * (B↔A, C, D) can leave the decoded signature, and the token, valid.
 */
function tamper(jwt: string): string {
  const at = jwt.lastIndexOf(".") + 1;
  return `${jwt.slice(0, at)}${jwt[at] === "A" ? "Q" : "A"}${jwt.slice(at + 1)}`;
}

/** Two "tabs" holding the same session (a duplicated tab copies sessionStorage), linked by a channel. */
async function twoTabs() {
  const svc = service();
  const user = await createVerifiedUser(testClient());
  const hub = channelHub();
  const storageA = memoryStorage();
  const storageB = memoryStorage();
  const a = createClient({ baseUrl: BASE, fetch: svc.fetch, storage: storageA, channel: hub.channel() });
  const b = createClient({ baseUrl: BASE, fetch: svc.fetch, storage: storageB, channel: hub.channel() });
  await a.login({ email: user.email, password: PASSWORD });
  const shared = (await storageA.get()) as StoredTokens;
  const stale = { ...shared, access_token: tamper(shared.access_token) };
  await storageA.set(stale);
  await storageB.set(stale);
  return { svc, user, hub, a, b, storageA, storageB, shared };
}

async function sessionRevokedAt(accessToken: string): Promise<Date | null | undefined> {
  const sid = JSON.parse(atob(accessToken.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).sid;
  const db = database();
  try {
    return (await db.sessions.findById(sid))?.revokedAt;
  } finally {
    await db.close();
  }
}

describe("edge-auth/client across tabs", () => {
  it("one tab refreshes, the other adopts the new pair; later neither presents a rotated token", async () => {
    const { svc, user, hub, a, b, storageA, storageB, shared } = await twoTabs();

    // Tab A hits a 401 and refreshes; tab B's next call comes while A's refresh is under way.
    const first = a.me();
    await hub.posted("refreshing");
    const second = b.me();
    expect((await Promise.all([first, second])).map((u) => u.id)).toEqual([user.id, user.id]);

    const tokensA = (await storageA.get())!;
    const tokensB = (await storageB.get())!;
    expect(tokensB.refresh_token).toBe(tokensA.refresh_token);
    expect(tokensA.refresh_token).not.toBe(shared.refresh_token);
    expect(svc.count("POST /auth/refresh")).toBe(1);

    // Well past the service's 10 s grace window, tab B refreshes: with the adopted token, not reuse.
    const clock = fakeClock();
    clock.advance(60_000);
    await b.refresh();
    expect(svc.count("POST /auth/refresh")).toBe(2);
    expect(await auditActions(user.id)).not.toContain("refresh_token_reused");
    expect(await sessionRevokedAt(tokensA.access_token)).toBeNull();
    // Tab A adopted B's rotation in turn.
    await new Promise((r) => setTimeout(r, 20));
    expect((await storageA.get())!.refresh_token).toBe((await storageB.get())!.refresh_token);
    expect((await a.me()).id).toBe(user.id);

    // What any script of the origin listening on the channel saw: no token, no JWT, only ciphertext.
    const seen = JSON.stringify(hub.log, (_k, v) => (v instanceof ArrayBuffer ? "<bytes>" : v));
    for (const t of [shared.refresh_token, tokensA.refresh_token, tokensA.access_token]) {
      expect(seen).not.toContain(t);
    }
    expect(seen).not.toMatch(/eyJ/);
  });

  it("a tab that waits for another's refresh adopts its result without a request of its own", async () => {
    const { svc, user, hub, a, b, storageB } = await twoTabs();

    const release = svc.hold("POST /auth/refresh");
    const fromA = a.refresh();
    await hub.posted("refreshing"); // A's refresh is under way, held at the service's door
    const fromB = b.refresh();
    await new Promise((r) => setTimeout(r, 10));
    release();
    await Promise.all([fromA, fromB]);

    expect((await fromB).refresh_token).toBe((await fromA).refresh_token);
    expect(svc.count("POST /auth/refresh")).toBe(1);
    expect((await storageB.get())!.refresh_token).toBe((await fromB).refresh_token);
    expect(await auditActions(user.id)).not.toContain("refresh_token_reused");
  });

  it("signing out in one tab signs the other out too", async () => {
    const { a, b, storageB, shared } = await twoTabs();

    await a.logout();
    await new Promise((r) => setTimeout(r, 20));

    expect(await storageB.get()).toBeNull();
    expect(await b.me().catch((e) => e.code)).toBe("unauthorized");
    expect(await sessionRevokedAt(shared.access_token)).not.toBeNull();
  });

  it("a message from a tab that does not hold the token changes nothing", async () => {
    const { hub, b, storageB, user } = await twoTabs();
    const eavesdropper = hub.channel();

    // Forged messages: a guessed id, and an "ended" for a session the sender does not hold.
    eavesdropper.postMessage({ v: 1, type: "ended", id: "0".repeat(64) });
    eavesdropper.postMessage({
      v: 1,
      type: "refreshed",
      id: "0".repeat(64),
      iv: new Uint8Array(12),
      data: new ArrayBuffer(8),
    });
    await new Promise((r) => setTimeout(r, 20));

    expect(await storageB.get()).not.toBeNull();
    expect((await b.me()).id).toBe(user.id);
  });
});
