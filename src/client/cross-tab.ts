import type { StoredTokens } from "./storage";

/** The part of BroadcastChannel the coordinator uses (tests pass an in-memory double: workerd has none). */
export interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  close(): void;
}

/** What the coordinator needs from its client. */
export interface CrossTabHooks {
  /** The refresh token this tab holds now (its storage), or null. */
  current(): Promise<string | null>;
  /** Another tab rotated the token this tab holds: take the new pair. */
  adopt(tokens: StoredTokens): Promise<void>;
  /** Another tab learned that the session this tab holds has ended (refresh refused, or signed out). */
  ended(): Promise<void>;
}

type Message =
  | { v: 1; type: "refreshing"; id: string }
  | { v: 1; type: "refreshed"; id: string; iv: Uint8Array; data: ArrayBuffer }
  | { v: 1; type: "ended"; id: string };

type Outcome = { kind: "refreshed"; tokens: StoredTokens } | { kind: "ended" };

/**
 * How long a tab that heard "refreshing" waits for the result before refreshing itself. Below the
 * service's 10 s grace window: if the other tab rotated and then died, this tab's own refresh with the
 * same token still gets the same successor, never a reuse revocation.
 */
const WAIT_MS = 5_000;

const encoder = new TextEncoder();

async function digest(label: string, token: string): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(`edge-auth/${label}:${token}`)));
}

// Messages name a refresh token by a hash of it, and carry the successor encrypted under a key derived
// from it: only a tab that holds the rotated token learns the new pair, or can announce that it ended.
// Another script of the origin listening on the channel learns nothing it did not already hold.
async function idOf(token: string): Promise<string> {
  return Array.from(await digest("tab-id", token), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function keyOf(token: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", await digest("tab-key", token), "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
}

function isMessage(data: unknown): data is Message {
  const m = data as Partial<Message> | null;
  return !!m && m.v === 1 && typeof m.id === "string" && typeof m.type === "string";
}

/**
 * Cross-tab single flight over a BroadcastChannel. A tab about to refresh says so; another tab holding
 * the same refresh token waits for the result instead of presenting the token again, and every tab
 * holding it adopts the new pair the moment it exists, so no tab is left with a rotated token it would
 * later present (which the service treats as theft, revoking the session). Two tabs that start in the
 * same instant both refresh: the service answers both with the same successor within its grace window.
 */
export class CrossTab {
  private readonly announced = new Map<string, number>();
  private readonly waiters = new Map<string, Array<(o: Outcome) => void>>();
  /** Outcomes heard lately, for a tab that reaches `coordinate` just after the result arrived. */
  private readonly heard = new Map<string, { outcome: Outcome; at: number }>();

  constructor(
    private readonly channel: ChannelLike,
    private readonly hooks: CrossTabHooks,
  ) {
    channel.addEventListener("message", (event) => {
      if (isMessage(event.data)) void this.receive(event.data).catch(() => {});
    });
  }

  /** Refreshes `token` through `refresh`, unless another tab is already doing it. */
  async coordinate(token: string, refresh: () => Promise<StoredTokens>): Promise<StoredTokens> {
    const id = await idOf(token);
    const recent = this.heard.get(id);
    if (recent && Date.now() - recent.at < WAIT_MS) {
      if (recent.outcome.kind === "refreshed") return recent.outcome.tokens;
      throw new SessionEndedElsewhere();
    }
    const since = this.announced.get(id);
    if (since !== undefined && Date.now() - since < WAIT_MS) {
      const outcome = await this.wait(id, WAIT_MS - (Date.now() - since));
      if (outcome?.kind === "refreshed") return outcome.tokens;
      if (outcome?.kind === "ended") throw new SessionEndedElsewhere();
    }
    this.channel.postMessage({ v: 1, type: "refreshing", id } satisfies Message);
    const tokens = await refresh();
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const data = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv },
      await keyOf(token),
      encoder.encode(JSON.stringify(tokens)),
    );
    this.channel.postMessage({ v: 1, type: "refreshed", id, iv, data } satisfies Message);
    return tokens;
  }

  /** Tells the tabs holding `token` that its session is over (signed out, or the refresh was refused). */
  async ended(token: string): Promise<void> {
    this.channel.postMessage({ v: 1, type: "ended", id: await idOf(token) } satisfies Message);
  }

  close(): void {
    this.channel.close();
  }

  private wait(id: string, ms: number): Promise<Outcome | null> {
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      const timer = setTimeout(() => {
        const rest = (this.waiters.get(id) ?? []).filter((w) => w !== done);
        if (rest.length > 0) this.waiters.set(id, rest);
        else this.waiters.delete(id);
        resolve(null);
      }, ms);
      const done = (o: Outcome) => {
        clearTimeout(timer);
        resolve(o);
      };
      list.push(done);
      this.waiters.set(id, list);
    });
  }

  private settle(id: string, outcome: Outcome): void {
    this.announced.delete(id);
    const now = Date.now();
    for (const [key, h] of this.heard) if (now - h.at >= WAIT_MS) this.heard.delete(key);
    this.heard.set(id, { outcome, at: now });
    const list = this.waiters.get(id) ?? [];
    this.waiters.delete(id);
    for (const w of list) w(outcome);
  }

  private async receive(m: Message): Promise<void> {
    if (m.type === "refreshing") {
      this.announced.set(m.id, Date.now());
      return;
    }
    const current = await this.hooks.current();
    const mine = current !== null && (await idOf(current)) === m.id;
    if (m.type === "ended") {
      if (mine) await this.hooks.ended();
      this.settle(m.id, { kind: "ended" });
      return;
    }
    // Only a tab that holds the rotated token can decrypt; a waiting tab holds it by definition.
    if (!mine || !(m.iv instanceof Uint8Array)) return;
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: m.iv as Uint8Array<ArrayBuffer> },
      await keyOf(current),
      m.data,
    );
    const tokens = JSON.parse(new TextDecoder().decode(plain)) as StoredTokens;
    await this.hooks.adopt(tokens);
    this.settle(m.id, { kind: "refreshed", tokens });
  }
}

/** Another tab found the session over while this one waited. */
export class SessionEndedElsewhere extends Error {
  override name = "SessionEndedElsewhere";
}

/** A BroadcastChannel when the platform has one and can hash (secure contexts), else null. */
export function defaultChannel(name: string): ChannelLike | null {
  const Channel = (globalThis as { BroadcastChannel?: new (name: string) => ChannelLike }).BroadcastChannel;
  if (!Channel || !(globalThis as { crypto?: Crypto }).crypto?.subtle) return null;
  return new Channel(name);
}
