// Both backends: every audit entry gets its delivery row in the entry's own atomic write (and none
// without a webhook); what the receiver gets is the entry plus its event id, signed per Standard Webhooks.
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { presentAuditEntry } from "../../src/audit/present";
import { getConfig } from "../../src/config";
import { deliverDue } from "../../src/events/deliver";
import { handleWebhookQueue, NUDGE, type WebhookNudge } from "../../src/events/worker";
import worker from "../../src/index";
import { newId } from "../../src/lib/crypto";
import type { AuditEntry } from "../../src/storage/types";
import { auditEntries, createVerifiedUser, PASSWORD, testClient, uniqueEmail } from "../helpers";
import { rawSql } from "../support/raw-sql";
import {
  appendEvents,
  emptyOutbox,
  entry,
  FakeReceiver,
  outboxRow,
  outboxRows,
  SECRET_BYTES,
  WEBHOOK_ENV,
  WEBHOOK_SECRET,
  WEBHOOK_URL,
  webhookDatabase,
  webhookEnv,
  withDb,
} from "./support";

const DAY = 24 * 60 * 60 * 1000;

beforeEach(emptyOutbox);

/** A queue producer binding that records what was sent (the consumer is tested with createMessageBatch). */
function recordingQueue() {
  const sent: { body: WebhookNudge; options?: QueueSendOptions }[] = [];
  const queue = {
    sent,
    async send(body: WebhookNudge, options?: QueueSendOptions) {
      sent.push({ body, options });
    },
    async sendBatch(messages: Iterable<MessageSendRequest<WebhookNudge>>) {
      for (const m of messages) sent.push({ body: m.body });
    },
  };
  return queue;
}

const usesPostgres = () => getConfig(env).DATABASE_URL !== undefined;

describe("the outbox is written with the entry", () => {
  it("without WEBHOOK_URL nothing is written (no webhook, no cost)", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    await client.call("POST", "/auth/refresh", { json: { refresh_token: user.tokens.refresh_token } });

    expect((await auditEntries(user.id)).length).toBeGreaterThanOrEqual(4);
    expect(await outboxRows()).toEqual([]);
  });

  it("with a webhook, every entry of real flows (sign-in, refresh, failures) has exactly one pending row", async () => {
    const client = testClient({}, WEBHOOK_ENV);
    const user = await createVerifiedUser(client);
    const refreshed = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: user.tokens.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    const failed = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: "wrong-password" },
    });
    expect(failed.status).toBe(401);
    await client.call("POST", "/auth/login", { json: { email: uniqueEmail("nobody"), password: PASSWORD } });

    const entries = await auditEntries(user.id);
    expect(entries.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        "register",
        "email_verified",
        "login_succeeded",
        "token_refreshed",
        "login_failed",
      ]),
    );
    const rows = await outboxRows();
    const mine = rows.filter((r) => r.user_id === user.id);
    expect(mine.map((r) => r.id).sort()).toEqual(entries.map((e) => e.id).sort());
    // Each row carries its entry's place in the chain, the order it is delivered in.
    expect(mine.map((r) => Number(r.seq)).sort((a, b) => a - b)).toEqual(
      entries.map((e) => e.seq).sort((a, b) => a! - b!),
    );
    expect(rows.every((r) => r.status === "pending" && r.attempts === 0)).toBe(true);
    // The unknown email's failure has no user; it is delivered too.
    expect(rows.some((r) => r.user_id === null)).toBe(true);
  });

  it("an outbox write that fails takes the entry (and the session) down with it: never one without the other", async () => {
    const statements = usesPostgres()
      ? [
          "create or replace function outbox_refuses() returns trigger language plpgsql as $$ begin raise exception 'outbox refuses'; end $$",
          "create trigger outbox_refuses before insert on webhook_outbox for each row execute function outbox_refuses()",
        ]
      : [
          "create trigger outbox_refuses before insert on webhook_outbox begin select raise(abort, 'outbox refuses'); end",
        ];
    const drop = usesPostgres()
      ? [
          "drop trigger if exists outbox_refuses on webhook_outbox",
          "drop function if exists outbox_refuses()",
        ]
      : ["drop trigger if exists outbox_refuses"];
    const user = await withDb(webhookDatabase, (db) =>
      db.users.create({
        id: newId(),
        email: uniqueEmail(),
        fullName: null,
        passwordHash: null,
        role: "user",
        isVerified: true,
        now: new Date(),
      }),
    );
    const session = {
      id: newId(),
      userId: user!.id,
      refreshHash: `rt-${newId()}`,
      expiresAt: new Date(Date.now() + DAY),
      ip: null,
      userAgent: null,
      now: new Date(),
    };
    // A session to rotate, made before the outbox starts refusing.
    const rotating = { ...session, id: newId(), refreshHash: `rt-${newId()}` };
    await withDb(webhookDatabase, (db) =>
      db.sessions.create(rotating, entry(user!.id, new Date(), "login_succeeded")),
    );
    const before = (await auditEntries(user!.id)).length;

    for (const s of statements) await rawSql(s);
    try {
      await withDb(webhookDatabase, async (db) => {
        await expect(db.audit.append(entry(user!.id, new Date()))).rejects.toThrow();
        await expect(
          db.sessions.create(session, entry(user!.id, new Date(), "login_succeeded")),
        ).rejects.toThrow();
        // A sign-in's write with its tail read ahead (plain values on both backends) as well.
        const ahead = { chain: user!.id, tail: db.audit.prepare(user!.id) };
        await expect(
          db.sessions.create(session, entry(user!.id, new Date(), "login_succeeded"), ahead),
        ).rejects.toThrow();
        const { userId: _u, ...rotation } = entry(user!.id, new Date(), "token_refreshed");
        await expect(
          db.sessions.rotate(rotating.refreshHash, `next-${newId()}`, new Date(), 10_000, rotation),
        ).rejects.toThrow();
        expect(await db.sessions.findById(session.id)).toBeNull();
        expect((await db.sessions.findById(rotating.id))?.currentHash).toBe(rotating.refreshHash);
      });
    } finally {
      for (const s of drop) await rawSql(s);
    }
    expect(await auditEntries(user!.id)).toHaveLength(before);
  });
});

describe("what the receiver gets", () => {
  it("the entry plus event_id, signed per Standard Webhooks (checked by an independent HMAC)", async () => {
    const userId = newId();
    const [id] = await appendEvents(userId, 1);
    const receiver = new FakeReceiver();
    await withDb(webhookDatabase, (db) =>
      deliverDue(db, { url: WEBHOOK_URL, secret: WEBHOOK_SECRET }, { fetch: receiver.fetch }),
    );
    const [call] = receiver.calls;
    const stored = (await auditEntries(userId))[0] as AuditEntry;

    expect(call!.init.method).toBe("POST");
    expect(call!.headers.get("content-type")).toBe("application/json");
    expect(call!.headers.get("webhook-id")).toBe(id);
    const body = JSON.parse(call!.body);
    expect(body).toEqual({ ...presentAuditEntry(stored), event_id: id });
    expect(body.hash).toMatch(/^[0-9a-f]{64}$/);

    // Independent check: WebCrypto HMAC-SHA256 over "<id>.<timestamp>.<body>" with the decoded secret.
    const timestamp = call!.headers.get("webhook-timestamp")!;
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(300);
    const key = await crypto.subtle.importKey("raw", SECRET_BYTES, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    const sign = async (payload: string) => {
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(payload)));
      return `v1,${btoa(String.fromCharCode(...mac))}`;
    };
    const signature = call!.headers.get("webhook-signature");
    expect(signature).toBe(await sign(`${id}.${timestamp}.${call!.body}`));
    // The check means something: a changed body or id no longer matches.
    expect(signature).not.toBe(
      await sign(`${id}.${timestamp}.${call!.body.replace("login_failed", "login_succeeded")}`),
    );
    expect(signature).not.toBe(await sign(`${newId()}.${timestamp}.${call!.body}`));
    // And a receiver library verifies it as is.
    expect(new Webhook(WEBHOOK_SECRET).verify(call!.body, Object.fromEntries(call!.headers))).toEqual(body);
  });
});

describe("the queue path", () => {
  it("a request that wrote events wakes the queue once, after the response; one that wrote none does not", async () => {
    const queue = recordingQueue();
    const client = testClient({}, { ...WEBHOOK_ENV, WEBHOOK_QUEUE: queue });
    const email = uniqueEmail();
    await client.call("POST", "/auth/register", { json: { email, password: PASSWORD } });
    expect(queue.sent).toEqual([{ body: NUDGE, options: undefined }]);

    await client.call("GET", "/health");
    expect(queue.sent).toHaveLength(1);

    // Without a webhook the binding is never used.
    const quiet = recordingQueue();
    await testClient({}, { WEBHOOK_QUEUE: quiet }).call("POST", "/auth/register", {
      json: { email: uniqueEmail(), password: PASSWORD },
    });
    expect(quiet.sent).toEqual([]);
  });

  it("the consumer drains the outbox for the whole batch, acks it, and wakes itself for a retry", async () => {
    const [a, b] = [newId(), newId()];
    const ids = [...(await appendEvents(a, 2)), ...(await appendEvents(b, 1))];
    const receiver = new FakeReceiver((call) =>
      call.headers.get("webhook-id") === ids[2] ? new Response("busy", { status: 429 }) : new Response("ok"),
    );
    const queue = recordingQueue();
    const batch = createMessageBatch<WebhookNudge>("edge-auth-webhooks", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: NUDGE },
      { id: "m2", timestamp: new Date(), attempts: 1, body: NUDGE },
    ]);
    const ctx = createExecutionContext();
    const now = new Date();

    const report = await handleWebhookQueue(batch, webhookEnv({ WEBHOOK_QUEUE: queue }), {
      fetch: receiver.fetch,
      now: () => now,
    });

    expect(report).toMatchObject({ delivered: 2, retrying: 1 });
    expect(receiver.acceptedFor(a)).toEqual(ids.slice(0, 2));
    expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
    // The retry is due in ~10 s: the consumer asks the queue to wake it then.
    expect(queue.sent).toHaveLength(1);
    expect(queue.sent[0]!.options!.delaySeconds).toBeGreaterThanOrEqual(10);
    expect(queue.sent[0]!.options!.delaySeconds).toBeLessThanOrEqual(12);
    expect((await outboxRow(ids[2]!))?.status).toBe("pending");
  });
});

describe("the cron path", () => {
  it("the worker's scheduled handler delivers what is due (through fetch), and the minute cron skips retention", async () => {
    const userId = newId();
    const old = new Date(Date.now() - (getConfig(env).AUDIT_RETENTION_DAYS + 1) * DAY);
    const [oldId] = await appendEvents(userId, 1, old);
    const ids = await appendEvents(userId, 2);
    const receiver = new FakeReceiver();
    // The Worker entry uses the global fetch: the receiver is faked there, for this test only.
    vi.spyOn(globalThis, "fetch").mockImplementation(receiver.fetch);
    const ctx = createExecutionContext();

    await worker.scheduled(
      createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }),
      webhookEnv(),
      ctx,
    );

    // An event older than its 24 h window still gets its first attempt (the window only ends retrying).
    expect(receiver.acceptedFor(userId)).toEqual([oldId, ...ids]);
    // The minute cron does not run retention: the old entry is still there.
    expect((await auditEntries(userId)).map((e) => e.id)).toContain(oldId);
  });

  it("does nothing, and opens nothing, without a webhook", async () => {
    await appendEvents(newId(), 1);
    const spy = vi.spyOn(globalThis, "fetch");
    await worker.scheduled(
      createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }),
      env,
      createExecutionContext(),
    );
    expect(spy).not.toHaveBeenCalled();
    expect((await outboxRows())[0]!.status).toBe("pending");
  });
});
