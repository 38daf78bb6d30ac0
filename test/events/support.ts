import { env } from "cloudflare:workers";
import { getConfig } from "../../src/config";
import { newId } from "../../src/lib/crypto";
import { openDatabase } from "../../src/storage";
import type { Database, NewAuditEntry } from "../../src/storage/types";
import { rawSql } from "../support/raw-sql";

/** 32 fixed bytes, in the whsec_ form a Standard Webhooks dashboard hands out. */
export const SECRET_BYTES = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256);
export const WEBHOOK_SECRET = `whsec_${btoa(String.fromCharCode(...SECRET_BYTES))}`;
export const WEBHOOK_URL = "https://hooks.example.test/edge-auth";
export const WEBHOOK_ENV = { WEBHOOK_URL, WEBHOOK_SECRET };

/** The Worker env with the webhook configured (the worker's own env has none, so other suites pay nothing). */
export function webhookEnv(extra: Record<string, unknown> = {}): typeof env {
  return { ...env, ...WEBHOOK_ENV, ...extra } as typeof env;
}

/** A database handle as the app opens it with a webhook configured: audit writes fill the outbox. */
export function webhookDatabase(): Database {
  const e = webhookEnv();
  return openDatabase(getConfig(e), e);
}

export async function withDb<T>(open: () => Database, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export function entry(userId: string | null, at: Date, action = "login_failed"): NewAuditEntry {
  return {
    id: newId(),
    userId,
    action,
    ip: "198.51.100.7",
    userAgent: "vitest",
    createdAt: at,
    metadata: { reason: "bad_password" },
  };
}

/** Appends `n` entries for `userId` one after another (with the outbox); their ids in chain order. */
export async function appendEvents(userId: string | null, n: number, at = new Date()): Promise<string[]> {
  return withDb(webhookDatabase, async (db) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const e = entry(userId, new Date(at.getTime() + i));
      await db.audit.append(e);
      ids.push(e.id);
    }
    return ids;
  });
}

export interface OutboxRow {
  id: string;
  user_id: string | null;
  seq: number | null;
  status: string;
  attempts: number;
  last_error: string | null;
  last_status: number | null;
}

/**
 * D1 is emptied per file, Postgres per test: a suite that counts outbox rows starts each test without the
 * previous test's rows on both.
 */
export async function emptyOutbox(): Promise<void> {
  await rawSql("delete from webhook_outbox");
}

/** The outbox as stored, read straight from the database. */
export async function outboxRows(): Promise<OutboxRow[]> {
  const rows = await rawSql(
    "select id, user_id, seq, status, attempts, last_error, last_status from webhook_outbox order by created_at, id",
  );
  return rows.map((r) => ({ ...r, attempts: Number(r.attempts) }) as unknown as OutboxRow);
}

export async function outboxRow(id: string): Promise<OutboxRow | undefined> {
  return (await outboxRows()).find((r) => r.id === id);
}

/** Audit ids of a user in chain (seq) order, read straight from the database. */
export async function chainOrder(userId: string): Promise<string[]> {
  const rows = await rawSql("select id from audit_log where chain = ? order by seq", [userId]);
  return rows.map((r) => String(r.id));
}

export interface ReceivedCall {
  url: string;
  headers: Headers;
  body: string;
  init: RequestInit;
  /** What the fake answered (null: it hung or threw). */
  status: number | null;
}

type Answer = (call: ReceivedCall, index: number) => Response | Promise<Response>;

/**
 * The webhook receiver, faked at the fetch boundary: records every request the deliverer makes and
 * answers with `answer` (200 unless told otherwise).
 */
export class FakeReceiver {
  readonly calls: ReceivedCall[] = [];
  constructor(private answer: Answer = () => new Response("ok", { status: 200 })) {}

  answerWith(answer: Answer): void {
    this.answer = answer;
  }

  readonly fetch: typeof fetch = async (input, init = {}) => {
    const request = new Request(input, init);
    const call: ReceivedCall = {
      url: request.url,
      headers: new Headers(init.headers),
      body: typeof init.body === "string" ? init.body : await request.text(),
      init,
      status: null,
    };
    this.calls.push(call);
    const response = await this.answer(call, this.calls.length - 1);
    call.status = response.status;
    return response;
  };

  /** Event ids the receiver accepted (2xx), in the order it got them. */
  accepted(): string[] {
    return this.calls
      .filter((c) => c.status !== null && c.status >= 200 && c.status < 300)
      .map((c) => c.headers.get("webhook-id")!);
  }

  acceptedFor(userId: string): string[] {
    return this.calls
      .filter((c) => c.status !== null && c.status < 300 && JSON.parse(c.body).user_id === userId)
      .map((c) => c.headers.get("webhook-id")!);
  }
}

/** A receiver that never answers: it waits until the deliverer gives up (the fetch's signal aborts). */
export function hang(call: ReceivedCall): Promise<Response> {
  return new Promise((_, reject) => {
    const signal = call.init.signal;
    if (!signal) return; // no deadline: would hang forever (the test's own timeout then fails it)
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}
