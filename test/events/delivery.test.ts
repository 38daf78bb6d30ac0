// Both backends: the outbox is drained by deliverDue (what the queue consumer and the cron run), with
// the receiver faked at the fetch boundary. Time is passed as `now`, so backoff needs no sleeping.
import { beforeEach, describe, expect, it } from "vitest";
import { deliverDue } from "../../src/events/deliver";
import { DELIVERY_WINDOW_MS, LEASE_MS, WEBHOOK_TIMEOUT_MS } from "../../src/events/policy";
import { newId } from "../../src/lib/crypto";
import {
  appendEvents,
  chainOrder,
  emptyOutbox,
  entry,
  FakeReceiver,
  hang,
  outboxRow,
  outboxRows,
  WEBHOOK_SECRET,
  WEBHOOK_URL,
  webhookDatabase,
  withDb,
} from "./support";

const target = { url: WEBHOOK_URL, secret: WEBHOOK_SECRET };
const HOUR = 60 * 60 * 1000;

beforeEach(emptyOutbox);

/** One deliverer run at `at`, as the cron or the queue consumer would make it. */
function drain(receiver: FakeReceiver, at: Date, extra: Parameters<typeof deliverDue>[2] = {}) {
  return withDb(webhookDatabase, (db) =>
    deliverDue(db, target, { fetch: receiver.fetch, now: () => at, ...extra }),
  );
}

describe("webhook delivery: nothing lost, in order per user", () => {
  it("a receiver down for a while (500, then 200) gets every event once accepted, each user's in order", async () => {
    const t0 = new Date();
    const [alice, bob] = [newId(), newId()];
    const aliceIds = await appendEvents(alice, 3, t0);
    const bobIds = await appendEvents(bob, 3, t0);
    const receiver = new FakeReceiver(() => new Response("down", { status: 500 }));

    const first = await drain(receiver, t0);

    // Only each user's first event was tried: the later ones wait behind it.
    expect(first).toMatchObject({ delivered: 0, retrying: 2, failed: 0 });
    expect(receiver.calls.map((c) => c.headers.get("webhook-id")).sort()).toEqual(
      [aliceIds[0], bobIds[0]].sort(),
    );
    expect(await outboxRow(aliceIds[0]!)).toMatchObject({
      status: "pending",
      attempts: 1,
      last_error: "HTTP 500",
      last_status: 500,
    });
    // Not due again yet: a second run at the same instant sends nothing.
    await drain(receiver, t0);
    expect(receiver.calls).toHaveLength(2);

    receiver.answerWith(() => new Response(null, { status: 204 }));
    const second = await drain(receiver, new Date(t0.getTime() + HOUR));

    expect(second).toMatchObject({ delivered: 6, retrying: 0, failed: 0 });
    expect(receiver.acceptedFor(alice)).toEqual(aliceIds);
    expect(receiver.acceptedFor(bob)).toEqual(bobIds);
    expect(aliceIds).toEqual(await chainOrder(alice));
    const rows = await outboxRows();
    expect(
      rows
        .filter((r) => r.status === "delivered")
        .map((r) => r.id)
        .sort(),
    ).toEqual([...aliceIds, ...bobIds].sort());
  });

  it("retries for 24 h, then marks the event failed and lets the user's next event go", async () => {
    const t0 = new Date();
    const user = newId();
    const [stuck, next] = await appendEvents(user, 2, t0);
    const receiver = new FakeReceiver((call) =>
      call.headers.get("webhook-id") === stuck ? new Response("no", { status: 503 }) : new Response("ok"),
    );

    // Backoff: each failure makes the row due later, never past the 24 h window.
    let at = t0;
    for (let i = 0; i < 40; i++) {
      await drain(receiver, at);
      at = new Date(at.getTime() + 2 * HOUR);
      if ((await outboxRow(stuck!))?.status === "failed") break;
    }
    const failed = await outboxRow(stuck!);
    expect(failed).toMatchObject({ status: "failed", last_error: "HTTP 503", last_status: 503 });
    expect(at.getTime() - t0.getTime()).toBeGreaterThanOrEqual(DELIVERY_WINDOW_MS);
    // The later event waited the whole time, then went once the earlier one failed for good.
    await drain(receiver, at);
    expect(receiver.accepted()).toEqual([next]);
    expect((await outboxRow(next!))?.status).toBe("delivered");
    // Attempts were spread out (exponential backoff), not hammered every run.
    expect(failed!.attempts).toBeGreaterThan(3);
    expect(failed!.attempts).toBe(receiver.calls.length - 1);
  });

  it("50 parallel events for one user are delivered in chain order, even by two deliverers at once", async () => {
    const user = newId();
    const handles = Array.from({ length: 5 }, () => webhookDatabase());
    try {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          handles[i % handles.length]!.audit.append(entry(user, new Date())),
        ),
      );
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
    const order = await chainOrder(user);
    expect(order).toHaveLength(50);
    const receiver = new FakeReceiver();

    // The queue consumer and the cron drain at the same time.
    const now = new Date(Date.now() + 1000);
    const reports = await Promise.all([drain(receiver, now), drain(receiver, now)]);

    expect(reports[0]!.delivered + reports[1]!.delivered).toBe(50);
    expect(receiver.accepted()).toEqual(order);
    expect(receiver.calls).toHaveLength(50);
  });
});

describe("webhook delivery: leases", () => {
  it("concurrent deliverers never send one event twice", async () => {
    const ids = (await Promise.all(Array.from({ length: 20 }, () => appendEvents(newId(), 1)))).flat();
    // A slow receiver keeps every attempt in flight while the other deliverers look for work.
    const receiver = new FakeReceiver(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return new Response("ok");
    });
    const now = new Date(Date.now() + 1000);

    await Promise.all(Array.from({ length: 6 }, () => drain(receiver, now, { batchSize: 4 })));

    expect(receiver.calls).toHaveLength(20);
    expect(receiver.accepted().sort()).toEqual([...ids].sort());
    expect((await outboxRows()).every((r) => r.status === "delivered" && r.attempts === 1)).toBe(true);
  });

  it("a deliverer that died holding a lease: its events go out after the lease, and its late result is dropped", async () => {
    const t0 = new Date(Date.now() + 1000);
    const [id] = await appendEvents(newId(), 1);
    const crashed = await withDb(webhookDatabase, (db) => db.webhooks.claim("crashed", t0, LEASE_MS, 10));
    expect(crashed.map((d) => d.id)).toEqual([id]);
    const receiver = new FakeReceiver();

    await drain(receiver, new Date(t0.getTime() + LEASE_MS - 1));
    expect(receiver.calls).toHaveLength(0);
    await drain(receiver, new Date(t0.getTime() + LEASE_MS));
    expect(receiver.accepted()).toEqual([id]);

    // The dead deliverer wakes up and reports a failure: its lease is gone, nothing changes.
    const late = await withDb(webhookDatabase, (db) =>
      db.webhooks.settle(id!, "crashed", { status: "failed", error: "HTTP 500", httpStatus: 500 }),
    );
    expect(late).toBe(false);
    expect(await outboxRow(id!)).toMatchObject({ status: "delivered", attempts: 2 });
  });
});

describe("webhook delivery: hostile or broken receivers", () => {
  it("a receiver that hangs is cut off by the timeout and retried later", async () => {
    expect(WEBHOOK_TIMEOUT_MS).toBe(5_000);
    const t0 = new Date();
    const [id] = await appendEvents(newId(), 1, t0);
    const receiver = new FakeReceiver(hang);

    const started = Date.now();
    const report = await drain(receiver, t0, { timeoutMs: 100 });

    expect(report).toMatchObject({ delivered: 0, retrying: 1 });
    expect(Date.now() - started).toBeLessThan(WEBHOOK_TIMEOUT_MS);
    expect(receiver.calls[0]!.init.signal?.aborted).toBe(true);
    expect(await outboxRow(id!)).toMatchObject({
      status: "pending",
      last_error: "timed out after 100 ms",
      last_status: null,
    });

    receiver.answerWith(() => new Response("ok"));
    await drain(receiver, new Date(t0.getTime() + HOUR));
    expect(receiver.accepted()).toEqual([id]);
  });

  it("a redirect is not followed: the signed event never reaches the other host", async () => {
    const t0 = new Date();
    const [id] = await appendEvents(newId(), 1, t0);
    const receiver = new FakeReceiver(
      () => new Response(null, { status: 307, headers: { Location: "https://attacker.example/collect" } }),
    );

    await drain(receiver, t0);

    expect(receiver.calls).toHaveLength(1);
    expect(receiver.calls[0]!.url).toBe(WEBHOOK_URL);
    expect(receiver.calls[0]!.init.redirect).toBe("manual");
    expect(await outboxRow(id!)).toMatchObject({
      status: "pending",
      last_error: "redirect not followed (HTTP 307)",
      last_status: 307,
    });
  });

  it("a network error is retried and its message (which may quote the URL) is not stored", async () => {
    const t0 = new Date();
    const [id] = await appendEvents(newId(), 1, t0);
    const receiver = new FakeReceiver(() => {
      throw new TypeError(`connect failed: ${WEBHOOK_URL}?token=hunter2`);
    });

    await drain(receiver, t0);

    const row = await outboxRow(id!);
    expect(row).toMatchObject({ status: "pending", last_error: "network error (TypeError)" });
    expect(JSON.stringify(row)).not.toContain("hunter2");
  });
});
