import { env } from "cloudflare:workers";
import { createApp } from "../../src/app";
import type { ChannelLike } from "../../src/client";
import type { AppOptions } from "../../src/deps";
import { CapturingEmailSender } from "../helpers";
import { testHasher } from "../support/test-hasher";

/**
 * The real service (createApp over this project's D1/KV or Postgres/Redis) behind a `fetch`, counting
 * requests by "METHOD /path" so tests can prove how many refreshes a client made.
 */
export function service(options: AppOptions = {}, envOverrides: Record<string, unknown> = {}) {
  const mailbox = new CapturingEmailSender();
  const app = createApp({ email: mailbox, passwords: testHasher, ...options });
  const testEnv = { ...env, ...envOverrides };
  const counts = new Map<string, number>();
  const gates = new Map<string, Promise<void>>();
  const fetch = async (request: Request): Promise<Response> => {
    const key = `${request.method} ${new URL(request.url).pathname}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    await gates.get(key);
    return app.request(request, undefined, testEnv);
  };
  /** Holds requests to `key` until the returned function is called (to order two tabs' steps). */
  const hold = (key: string): (() => void) => {
    let release!: () => void;
    gates.set(key, new Promise<void>((r) => (release = r)));
    return () => {
      gates.delete(key);
      release();
    };
  };
  return { fetch, mailbox, hold, count: (key: string) => counts.get(key) ?? 0 };
}

/**
 * BroadcastChannel semantics in memory (workerd has no BroadcastChannel): a message reaches every other
 * channel of the same hub, asynchronously, as a structured clone; never the sender. `log` keeps every
 * message, to check what an eavesdropping script of the origin would see.
 */
export function channelHub() {
  const members = new Set<{ listeners: Array<(e: { data: unknown }) => void> }>();
  const log: unknown[] = [];
  const watchers: Array<{ type: string; resolve: () => void }> = [];
  /** Resolves when some channel posts a message of `type` (at once if one already has). */
  const posted = (type: string): Promise<void> =>
    log.some((m) => (m as { type?: string }).type === type)
      ? Promise.resolve()
      : new Promise((resolve) => watchers.push({ type, resolve }));
  const channel = (): ChannelLike => {
    const me = { listeners: [] as Array<(e: { data: unknown }) => void> };
    members.add(me);
    return {
      postMessage(message) {
        log.push(message);
        for (const w of watchers.splice(0)) {
          if (w.type === (message as { type?: string }).type) w.resolve();
          else watchers.push(w);
        }
        for (const other of members) {
          if (other === me) continue;
          const data = structuredClone(message);
          // A later task in a browser; a microtask here (workerd runs 0 ms timers late while a test
          // awaits in-process requests), which still delivers after postMessage has returned.
          queueMicrotask(() => {
            for (const l of other.listeners) l({ data });
          });
        }
      },
      addEventListener(_type, listener) {
        me.listeners.push(listener);
      },
      close() {
        members.delete(me);
      },
    };
  };
  return { channel, log, posted };
}
