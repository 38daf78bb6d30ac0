// Both backends: admins see what is not delivered and retry it; retention drops settled rows in bounded
// batches and never a pending one.
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { applyRetention, DELIVERED_WEBHOOK_KEEP_MS } from "../../src/audit/retention";
import { getConfig } from "../../src/config";
import { deliverDue } from "../../src/events/deliver";
import { newId } from "../../src/lib/crypto";
import { createVerifiedUser, testClient } from "../helpers";
import { rawSql } from "../support/raw-sql";
import { createAdmin, walk } from "../users/admin-helpers";
import {
  appendEvents,
  emptyOutbox,
  FakeReceiver,
  outboxRow,
  outboxRows,
  WEBHOOK_SECRET,
  WEBHOOK_URL,
  webhookDatabase,
  withDb,
} from "./support";

const DAY = 24 * 60 * 60 * 1000;
const target = { url: WEBHOOK_URL, secret: WEBHOOK_SECRET };

beforeEach(emptyOutbox);

/** Delivers at `at` with a receiver that refuses the events in `refuse`. */
function drain(at: Date, refuse: string[] = []) {
  const receiver = new FakeReceiver((call) =>
    refuse.includes(call.headers.get("webhook-id")!)
      ? new Response("no", { status: 500 })
      : new Response("ok"),
  );
  return withDb(webhookDatabase, (db) => deliverDue(db, target, { fetch: receiver.fetch, now: () => at }));
}

describe("GET /admin/webhooks/deliveries and retry", () => {
  it("lists pending and failed (not delivered) deliveries, newest first, by status, in keyset pages", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    await emptyOutbox(); // the admin's own sign-up wrote no rows (no webhook for this client), but be sure
    const t0 = new Date(Date.now() - 2 * DAY);
    const [failedId] = await appendEvents(newId(), 1, t0);
    const [deliveredId] = await appendEvents(newId(), 1, t0);
    // failedId: refused for 24 h and more; deliveredId: accepted.
    await drain(t0, [failedId!]);
    await drain(new Date(t0.getTime() + DAY + 1), [failedId!]);
    const pendingIds = await appendEvents(newId(), 3);
    expect((await outboxRow(failedId!))?.status).toBe("failed");
    expect((await outboxRow(deliveredId!))?.status).toBe("delivered");

    const all = await walk(client, "/admin/webhooks/deliveries?limit=2", admin.tokens.access_token);
    expect(all.pages.map((p) => p.length)).toEqual([2, 2]);
    expect(all.ids).toEqual([...[...pendingIds].reverse(), failedId]);

    const failed = await client.call("GET", "/admin/webhooks/deliveries?status=failed", {
      token: admin.tokens.access_token,
    });
    expect(failed.status).toBe(200);
    expect(failed.body.items).toHaveLength(1);
    expect(failed.body.items[0]).toMatchObject({
      id: failedId,
      action: "login_failed",
      status: "failed",
      last_error: "HTTP 500",
      last_status: 500,
      delivered_at: null,
    });
    expect(failed.body.items[0].attempts).toBeGreaterThan(1);
    const pending = await client.call("GET", "/admin/webhooks/deliveries?status=pending", {
      token: admin.tokens.access_token,
    });
    expect(pending.body.items.map((i: { id: string }) => i.id).sort()).toEqual([...pendingIds].sort());
    // The lease is a deliverer's capability: never shown.
    expect(JSON.stringify(pending.body)).not.toMatch(/lease/);
  });

  it("retries a failed delivery now, with a new window; 404 unknown, 409 delivered", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const t0 = new Date(Date.now() - 2 * DAY);
    const [failedId, laterId] = await appendEvents(newId(), 2, t0);
    await drain(t0, [failedId!]);
    await drain(new Date(t0.getTime() + DAY + 1), [failedId!]);
    expect((await outboxRow(failedId!))?.status).toBe("failed");
    expect((await outboxRow(laterId!))?.status).toBe("delivered");

    const retried = await client.call("POST", `/admin/webhooks/deliveries/${failedId}/retry`, {
      token: admin.tokens.access_token,
    });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ id: failedId, status: "pending" });
    expect(Date.parse(retried.body.give_up_at) - Date.now()).toBeGreaterThan(DAY - 60_000);
    expect(Date.parse(retried.body.next_attempt_at)).toBeLessThanOrEqual(Date.now());

    await drain(new Date());
    expect((await outboxRow(failedId!))?.status).toBe("delivered");

    const again = await client.call("POST", `/admin/webhooks/deliveries/${failedId}/retry`, {
      token: admin.tokens.access_token,
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("conflict");
    const unknown = await client.call("POST", `/admin/webhooks/deliveries/${newId()}/retry`, {
      token: admin.tokens.access_token,
    });
    expect(unknown.status).toBe(404);
  });

  it("is for admins only; bad input is 422", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const [id] = await appendEvents(user.id, 1);
    const asUser = await client.call("GET", "/admin/webhooks/deliveries", {
      token: user.tokens.access_token,
    });
    expect(asUser.status).toBe(403);
    const retryAsUser = await client.call("POST", `/admin/webhooks/deliveries/${id}/retry`, {
      token: user.tokens.access_token,
    });
    expect(retryAsUser.status).toBe(403);
    expect((await client.call("GET", "/admin/webhooks/deliveries")).status).toBe(401);
    const admin = await createAdmin(client);
    for (const query of ["status=delivered", "limit=0", "cursor=not-a-cursor"]) {
      const res = await client.call("GET", `/admin/webhooks/deliveries?${query}`, {
        token: admin.tokens.access_token,
      });
      expect(res.status).toBe(422);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    // Nothing changed for the user's row.
    expect(await outboxRow(id!)).toMatchObject({ status: "pending", attempts: 0 });
  });
});

describe("retention of the outbox", () => {
  it("drops delivered rows after a week and failed ones with their entries, never pending ones", async () => {
    const now = new Date();
    const config = getConfig({ ...env, AUDIT_RETENTION_DAYS: "30" });
    const longAgo = new Date(now.getTime() - 40 * DAY);
    const [oldDelivered] = await appendEvents(newId(), 1, new Date(now.getTime() - 10 * DAY));
    const [recentDelivered] = await appendEvents(newId(), 1, new Date(now.getTime() - 2 * DAY));
    const [oldFailed] = await appendEvents(newId(), 1, longAgo);
    const [oldPending] = await appendEvents(newId(), 1, longAgo);
    await drain(new Date(now.getTime() - 10 * DAY), [oldFailed!, oldPending!]);
    await drain(new Date(now.getTime() - 2 * DAY), [oldFailed!, oldPending!]);
    // oldPending: still within a (retried) window, as after an admin retry.
    await rawSql("update webhook_outbox set status = 'pending' where id = ?", [oldPending]);
    expect((await outboxRow(oldFailed!))?.status).toBe("failed");

    const result = await withDb(webhookDatabase, (db) => applyRetention(db, config, now));

    expect(result.webhookDeliveries).toBe(2);
    expect((await outboxRows()).map((r) => r.id).sort()).toEqual([recentDelivered, oldPending].sort());
    expect(await outboxRow(oldDelivered!)).toBeUndefined();
    expect(DELIVERED_WEBHOOK_KEEP_MS).toBe(7 * DAY);
  });

  it("deletes in bounded batches", async () => {
    const ids = await appendEvents(null, 7, new Date(Date.now() - 10 * DAY));
    await drain(new Date(Date.now() - 10 * DAY));
    expect((await outboxRows()).filter((r) => r.status === "delivered")).toHaveLength(7);
    const cutoff = new Date(Date.now() - 8 * DAY);
    const counts = await withDb(webhookDatabase, async (db) => {
      const out: number[] = [];
      for (let i = 0; i < 4; i++) out.push(await db.webhooks.deleteSettledBefore(cutoff, cutoff, 3));
      return out;
    });
    expect(counts).toEqual([3, 3, 1, 0]);
    expect(ids).toHaveLength(7);
    expect(await outboxRows()).toEqual([]);
  });
});
