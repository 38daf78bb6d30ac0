import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { newId } from "../../src/lib/crypto";
import { auditActions, BASE, CapturingEmailSender, database, PASSWORD, uniqueEmail } from "../helpers";

/*
 * No enumeration by time (API.md "Tightened rules"): forgot, resend and register answer after the same
 * work for known and unknown addresses, and their writes and emails run after the answer. The app gets an
 * ExecutionContext here, as on Workers, so deferred work really runs after the response; it is awaited
 * between requests (outside the timed part) so requests do not overlap. Only a generous bound is asserted;
 * the figures belong to `npm run bench`.
 */
const ROUNDS = 15;

function timedClient() {
  const mailbox = new CapturingEmailSender();
  const app = createApp({ email: mailbox });
  return {
    mailbox,
    /** Milliseconds until the response, then waits for the deferred work. */
    async time(path: string, json: unknown): Promise<number> {
      const pending: Promise<unknown>[] = [];
      const ctx = {
        waitUntil: (p: Promise<unknown>) => pending.push(p),
        passThroughOnException: () => {},
        props: {},
      } as unknown as ExecutionContext;
      const started = performance.now();
      const res = await app.request(
        `${BASE}${path}`,
        { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(json) },
        env,
        ctx,
      );
      await res.text();
      const elapsed = performance.now() - started;
      expect(res.status).toBe(202);
      await Promise.all(pending);
      return elapsed;
    },
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** Accounts created directly (no password hash to wait for): unverified and active, so every flow mails. */
async function knownAddresses(n: number): Promise<string[]> {
  const db = database();
  const emails: string[] = [];
  for (let i = 0; i < n; i++) {
    const email = uniqueEmail("known");
    await db.users.create({
      id: newId(),
      email,
      fullName: null,
      passwordHash: null,
      role: "user",
      isVerified: false,
      now: new Date(),
    });
    emails.push(email);
  }
  return emails;
}

async function compare(
  path: string,
  body: (email: string) => unknown,
  rounds = ROUNDS,
): Promise<{ known: number; unknown: number; mailbox: CapturingEmailSender; known_emails: string[] }> {
  const client = timedClient();
  const known = await knownAddresses(rounds);
  // Warm-up: first requests pay for compilation and connections.
  await client.time(path, body(uniqueEmail("warm")));
  const k: number[] = [];
  const u: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Interleaved, so drift (GC, a neighbour's load) hits both sides alike.
    k.push(await client.time(path, body(known[i]!)));
    u.push(await client.time(path, body(uniqueEmail("unknown"))));
  }
  return { known: median(k), unknown: median(u), mailbox: client.mailbox, known_emails: known };
}

/** Generous: a real difference (a write or two before the answer) is several times the noise floor. */
function expectIndistinguishable(r: { known: number; unknown: number }): void {
  // workerd's clock ticks in whole milliseconds, and a loaded 2-core machine adds noise of its own:
  // 12 ms of slack or half the slower median. The exact rule (nothing before the answer) is pinned
  // deterministically by "answers before the work" below.
  const bound = Math.max(12, 0.5 * Math.max(r.known, r.unknown));
  const figures = `known ${r.known.toFixed(1)} ms, unknown ${r.unknown.toFixed(1)} ms (medians)`;
  expect(Math.abs(r.known - r.unknown), figures).toBeLessThan(bound);
}

describe("no enumeration by time", () => {
  it("POST /auth/password/forgot", async () => {
    const r = await compare("/auth/password/forgot", (email) => ({ email }));
    expectIndistinguishable(r);
    // The work still happened, after the answer.
    for (const email of r.known_emails) expect(r.mailbox.last(email).subject).toMatch(/Reset your/);
  });

  it("POST /auth/verify/resend", async () => {
    const r = await compare("/auth/verify/resend", (email) => ({ email }));
    expectIndistinguishable(r);
    for (const email of r.known_emails) expect(r.mailbox.last(email).subject).toMatch(/Verify your email/);
  });

  it("POST /auth/register", async () => {
    // Fewer rounds: every register hashes a password (the same work, known or not).
    const r = await compare("/auth/register", (email) => ({ email, password: PASSWORD }), 7);
    expectIndistinguishable(r);
    for (const email of r.known_emails) expect(r.mailbox.last(email).subject).toMatch(/already have/);
  });

  it("POST /auth/email-login", async () => {
    const r = await compare("/auth/email-login", (email) => ({ email }));
    expectIndistinguishable(r);
    for (const email of r.known_emails) expect(r.mailbox.last(email).subject).toMatch(/Sign in to/);
  });

  it.each(["/auth/password/forgot", "/auth/verify/resend", "/auth/register", "/auth/email-login"])(
    "%s answers before the work: a known address's email is sent only after the 202",
    async (path) => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const mailbox = new (class extends CapturingEmailSender {
        override async send(message: Parameters<CapturingEmailSender["send"]>[0]): Promise<void> {
          await gate;
          await super.send(message);
        }
      })();
      const app = createApp({ email: mailbox });
      const [email] = await knownAddresses(1);
      const pending: Promise<unknown>[] = [];
      const ctx = {
        waitUntil: (p: Promise<unknown>) => pending.push(p),
        passThroughOnException: () => {},
        props: {},
      } as unknown as ExecutionContext;
      const res = await app.request(
        `${BASE}${path}`,
        {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ email, password: PASSWORD }),
        },
        env,
        ctx,
      );
      // The answer is out while the email (and what precedes it) still waits: had the route awaited
      // its work, this request would never have answered.
      expect(res.status).toBe(202);
      expect(mailbox.to(email!)).toHaveLength(0);
      release();
      await Promise.all(pending);
      expect(mailbox.to(email!)).toHaveLength(1);
      // Work deferred by deferred work (the audit entry) still lands before the connection closes.
      const expected: Record<string, string | null> = {
        "/auth/password/forgot": "password_reset_requested",
        "/auth/verify/resend": "verification_resent",
        "/auth/register": null,
        "/auth/email-login": "email_login_requested",
      };
      const action = expected[path];
      if (action) {
        const user = await database().users.findByEmail(email!);
        expect(await auditActions(user!.id)).toContain(action);
      }
    },
  );
});
