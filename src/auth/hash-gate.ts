import { AppError } from "../errors";
import type { PasswordHasher, Pause } from "./password";

export interface HashGateOptions {
  /** Hashes that may wait behind the running one; one more sign-in is shed with 503 `overloaded`. */
  maxQueued?: number;
  /** Retry-After of a shed sign-in. */
  retryAfterSeconds?: number;
  /**
   * How long a hash waits for in-flight authenticated reads to finish before it runs anyway, so a
   * steady stream of reads delays sign-ins but cannot starve them.
   */
  maxReadWaitMs?: number;
  /**
   * After a lane (or a hash), how long requests that queued while it held the thread get to reach `read`
   * before the next lane starts. Only spent when reads were seen in the last second.
   */
  graceMs?: number;
  /**
   * While authenticated reads keep arriving, a pause rests up to this many times the lane it follows,
   * so sign-ins get at most 1 / (1 + restRatio) of the thread while reads compete for it. 0: no rest.
   */
  restRatio?: number;
  /**
   * A holder that shows no progress (no lane finished) for this long is presumed gone (its request was
   * cancelled) and the head of the queue takes over, so one lost request cannot block every sign-in.
   */
  holderTimeoutMs?: number;
}

// A hash (five scrypt lanes, ~200 ms of the isolate's thread on an idle machine): eight waiting is under
// two seconds of queueing; a ninth caller is better told to come back than left hanging.
const DEFAULT_MAX_QUEUED = 8;
const DEFAULT_RETRY_AFTER_SECONDS = 1;
// A read through the stack costs a few ms of CPU between its awaits, but on a loaded machine its round
// trips take far longer; only reads already in flight are waited for (#readsDone), so this bound is
// paid once per pause at most, and only when a read is that slow.
const DEFAULT_MAX_READ_WAIT_MS = 200;
// See #yieldToReads: a request queued during a lane needs a few event-loop turns (socket, the dev proxy's
// entry worker, our middleware) before it calls `read`; on an idle thread that is well under this.
const DEFAULT_GRACE_MS = 4;
// Reads seen this recently make the gate yield at its pauses and spend its grace; a sign-in with no reader
// around (and no hash queued) pays nothing.
const RECENT_READS_MS = 1000;
// When reads compete for the thread, a pause rests as long as the lane it followed (bench/README "Login storm":
// 1x read 2.9x the p99 alone during the storm at 2.5 sign-ins/s, 2x 2.5-3.0x at 1.5/s), never more than
// MAX_REST_MS.
const DEFAULT_REST_RATIO = 1;
const MAX_REST_MS = 100;
// An authenticated read takes milliseconds; one "in flight" for this long was cancelled with its request.
const STALE_READ_MS = 10_000;
// No lane takes this long even on a loaded machine (~1 s at load average 17).
const DEFAULT_HOLDER_TIMEOUT_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A per-isolate gate around password hashing. workerd runs scrypt on the isolate's only thread, so hashes
 * that run back to back stall every other request of the isolate (a login storm pushed /auth/me p99 to
 * ~11x its p99 alone). The gate runs one hash at a time, in arrival order, and a hash is split into
 * native lanes (password.ts) with a `pause` between them; before each hash and at each pause, the gate
 * yields to the event loop and lets authenticated reads (see `read`) that arrived meanwhile finish, so
 * a read waits for at most one lane, not for a queue of hashes; when reads arrived during a lane, the
 * pause also rests as long as that lane ran, so sign-ins get at most half the thread while signed-in
 * users' reads compete for it. With nobody around (no read lately, no
 * hash queued) a pause does not yield, so a lone sign-in pays nothing for the gate. Excess hashes are shed (AppError
 * `overloaded`, 503 + Retry-After) rather than queued without bound. Reads are never shed.
 */
export class HashGate {
  readonly #maxQueued: number;
  readonly #retryAfterSeconds: number;
  readonly #maxReadWaitMs: number;
  readonly #graceMs: number;
  readonly #restRatio: number;
  #lastReadAt = Number.NEGATIVE_INFINITY;
  readonly #holderTimeoutMs: number;
  /** The hash that has the gate (a token per run), or null. */
  #holder: object | null = null;
  #progressAt = 0;
  readonly #waiting: { token: object; take: () => void }[] = [];
  /** Start times of the reads in flight (one object per read). */
  readonly #reads = new Set<{ startedAt: number }>();
  /** Hashes waiting for the reads that were in flight when they started waiting. */
  readonly #readWaiters: { pending: Set<object>; resolve: () => void }[] = [];

  constructor(options: HashGateOptions = {}) {
    this.#maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.#retryAfterSeconds = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
    this.#maxReadWaitMs = options.maxReadWaitMs ?? DEFAULT_MAX_READ_WAIT_MS;
    this.#graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.#restRatio = options.restRatio ?? DEFAULT_REST_RATIO;
    this.#holderTimeoutMs = options.holderTimeoutMs ?? DEFAULT_HOLDER_TIMEOUT_MS;
  }

  get running(): boolean {
    return this.#holder !== null;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  get readsInFlight(): number {
    return this.#liveReads().length;
  }

  /**
   * Throws `overloaded` when a hash arriving now would be shed. Sign-ins call it before they count an
   * attempt toward the account throttle, so a shed request never moves a user toward a lockout.
   */
  assertCapacity(): void {
    if (this.#holder !== null && this.#waiting.length >= this.#maxQueued) {
      throw new AppError("overloaded", { headers: { "Retry-After": String(this.#retryAfterSeconds) } });
    }
  }

  /**
   * Runs `hash` when the gate is free; throws `overloaded` (without running it) when the queue is full.
   * `hash` awaits the `pause` it is given between its native steps.
   */
  async run<T>(hash: (pause: Pause) => Promise<T>): Promise<T> {
    const token = {};
    const handedOver = this.#holder !== null;
    if (handedOver) {
      this.assertCapacity();
      await this.#queue(token);
    } else {
      this.#hold(token);
    }
    const pause: Pause = async () => {
      const laneStartedAt = this.#progressAt;
      this.#progressAt = Date.now();
      // Nothing could be waiting for this thread: go straight on. Yielding costs a timer turn (~2 ms in
      // workerd, per pause), which a sign-in with nobody around paid for nothing (bench/README.md).
      if (!this.#contended()) return;
      await this.#yieldToReads(laneStartedAt);
      await this.#readsDone();
      this.#progressAt = Date.now();
    };
    try {
      // Right after another hash, yield as between two lanes. Here, in this request, not in #release:
      // workerd cancels a finished request's timers, which would leave this one waiting forever.
      await (handedOver ? pause() : this.#readsDone());
      return await hash(pause);
    } finally {
      this.#release(token);
    }
  }

  /**
   * Someone may be waiting for the thread: a read in flight or seen lately (more may be on their way),
   * or a hash queued behind this one (a storm, when readers can arrive any moment). Otherwise a pause
   * does not yield, and a read arriving in that quiet waits for the rest of that one hash, never more:
   * once it has been seen, pauses yield again for a second.
   */
  #contended(): boolean {
    return (
      this.#waiting.length > 0 || this.#reads.size > 0 || Date.now() - this.#lastReadAt < RECENT_READS_MS
    );
  }

  #hold(token: object): void {
    this.#holder = token;
    this.#progressAt = Date.now();
  }

  /**
   * Waits for the gate, handed over by #release (the gate stays held in between, so arrivals queue
   * behind). Meanwhile a timer of this request's own checks on the holder: when its request vanished
   * without releasing, the head of the queue takes over.
   */
  async #queue(token: object): Promise<void> {
    let mine = false;
    let take!: () => void;
    const turn = new Promise<void>((resolve) => (take = resolve));
    const entry = {
      token,
      take: () => {
        mine = true;
        take();
      },
    };
    this.#waiting.push(entry);
    while (!mine) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        turn,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#checkEveryMs()))),
      ]);
      clearTimeout(timer);
      if (!mine && this.#waiting[0] === entry && Date.now() - this.#progressAt > this.#holderTimeoutMs) {
        this.#waiting.shift();
        this.#hold(token);
        mine = true;
      }
    }
  }

  #checkEveryMs(): number {
    return Math.min(1000, this.#holderTimeoutMs);
  }

  /** Marks `work` as an authenticated read in flight: hashes wait for it (within maxReadWaitMs). */
  async read<T>(work: () => Promise<T>): Promise<T> {
    const now = Date.now();
    this.#lastReadAt = now;
    // A read whose request was cancelled (client gone) never reaches its finally; forget it after a while.
    for (const stale of this.#reads) if (now - stale.startedAt > STALE_READ_MS) this.#reads.delete(stale);
    const read = { startedAt: now };
    this.#reads.add(read);
    try {
      return await work();
    } finally {
      this.#reads.delete(read);
      for (const waiter of [...this.#readWaiters]) {
        waiter.pending.delete(read);
        if (waiter.pending.size === 0) waiter.resolve();
      }
    }
  }

  #release(token: object): void {
    // A holder that was presumed gone and taken over from must not release its successor.
    if (this.#holder !== token) return;
    const next = this.#waiting.shift();
    if (!next) {
      this.#holder = null;
      return;
    }
    this.#hold(next.token);
    next.take();
  }

  /**
   * Gives the event loop to whatever queued while a lane held the thread. A macrotask first, not a
   * microtask, so completed I/O runs; it also refreshes workerd's clock, which stands still during
   * synchronous work, so the grace after it is real time (a timer set right after a 70 ms lane would be
   * due at once). The grace is what lets a request still on its way (socket → entry worker → our
   * middleware) reach `read` and be waited for: setTimeout(0) alone let the next lane overtake it.
   */
  async #yieldToReads(laneStartedAt: number): Promise<void> {
    await sleep(0);
    if (Date.now() - this.#lastReadAt >= RECENT_READS_MS) return;
    const laneMs = Math.max(0, Date.now() - laneStartedAt);
    if (this.#graceMs > 0) await sleep(this.#graceMs);
    // When reads arrived during the lane or its grace (they compete for the thread now), rest REST_RATIO
    // times the lane: the signed-in users' reads get at least that share of the thread, so a storm of
    // sign-ins gets at most 1/(1+REST_RATIO) of it (and the queue sheds the excess). Reads that come
    // now and then rarely land in that window, and a sign-in then pays only the grace.
    if (this.#lastReadAt >= laneStartedAt && this.#restRatio > 0) {
      await sleep(Math.min(MAX_REST_MS, laneMs * this.#restRatio));
    }
  }

  #liveReads(): { startedAt: number }[] {
    const now = Date.now();
    return [...this.#reads].filter((read) => now - read.startedAt <= STALE_READ_MS);
  }

  /**
   * Waits for the reads in flight now, not for reads that start meanwhile: a steady stream of reads
   * then delays a lane by the length of one read, not by maxReadWaitMs every time, and maxReadWaitMs
   * only bounds a read that is itself slow (a loaded machine, a slow replica).
   */
  async #readsDone(): Promise<void> {
    const pending = new Set<object>(this.#liveReads());
    if (pending.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let waiter: { pending: Set<object>; resolve: () => void } | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        waiter = { pending, resolve };
        this.#readWaiters.push(waiter);
      }),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#maxReadWaitMs);
      }),
    ]);
    clearTimeout(timer);
    this.#readWaiters.splice(this.#readWaiters.indexOf(waiter!), 1);
  }
}

/**
 * `inner` with every hash and verification through `gate`. Each one is also handed to `keepAlive`
 * (the request's waitUntil): workerd stops running a request's continuations when its client
 * disconnects, and a hash cancelled between two lanes (or while queued) would never release the gate,
 * leaving every later sign-in of the isolate waiting until workerd kills it as hung. waitUntil keeps
 * the request's continuations running (up to 30 s after a disconnect), so the gate is always released.
 */
export function gatedHasher(
  inner: PasswordHasher,
  gate: HashGate,
  keepAlive?: (work: Promise<unknown>) => void,
): PasswordHasher {
  const through = <T>(hash: (pause: Pause) => Promise<T>): Promise<T> => {
    const work = gate.run(hash);
    // Its outcome is the caller's to handle; here only its lifetime matters.
    keepAlive?.(work.catch(() => undefined));
    return work;
  };
  return {
    hash: (password) => through((pause) => inner.hash(password, pause)),
    verify: (password, stored) => through((pause) => inner.verify(password, stored, pause)),
    dummyHash: inner.dummyHash,
  };
}

/** The isolate's gate: module state on purpose, since the thread it protects is the isolate's. */
export const isolateHashGate = new HashGate();
