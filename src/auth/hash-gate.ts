import { AppError } from "../errors";
import type { PasswordHasher } from "./password";

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
}

// scrypt (N=2^15, r=8, p=3) takes about 100 ms of the isolate's thread: eight waiting is under a second
// of queueing; a ninth caller is better told to come back than left hanging.
const DEFAULT_MAX_QUEUED = 8;
const DEFAULT_RETRY_AFTER_SECONDS = 1;
// A read through the stack costs a few ms of CPU between its awaits; 50 ms bounds a sign-in's extra wait.
const DEFAULT_MAX_READ_WAIT_MS = 50;

const nextMacrotask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * A per-isolate gate around password hashing. workerd runs scrypt on the isolate's only thread, so hashes
 * that run back to back stall every other request of the isolate (a login storm pushed /auth/me p99 to
 * ~10x its p99 alone). The gate runs one hash at a time, in arrival order; before each it lets in-flight
 * authenticated reads (see `read`) finish, and between two hashes it yields to the event loop so I/O that
 * completed meanwhile is served. Excess hashes are shed (AppError `overloaded`, 503 + Retry-After) rather
 * than queued without bound. Reads are never shed.
 */
export class HashGate {
  readonly #maxQueued: number;
  readonly #retryAfterSeconds: number;
  readonly #maxReadWaitMs: number;
  #busy = false;
  readonly #waiting: (() => void)[] = [];
  #reads = 0;
  readonly #readsDrained: (() => void)[] = [];

  constructor(options: HashGateOptions = {}) {
    this.#maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.#retryAfterSeconds = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
    this.#maxReadWaitMs = options.maxReadWaitMs ?? DEFAULT_MAX_READ_WAIT_MS;
  }

  get running(): boolean {
    return this.#busy;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  get readsInFlight(): number {
    return this.#reads;
  }

  /**
   * Throws `overloaded` when a hash arriving now would be shed. Sign-ins call it before they count an
   * attempt toward the account throttle, so a shed request never moves a user toward a lockout.
   */
  assertCapacity(): void {
    if (this.#busy && this.#waiting.length >= this.#maxQueued) {
      throw new AppError("overloaded", { headers: { "Retry-After": String(this.#retryAfterSeconds) } });
    }
  }

  /** Runs `hash` when the gate is free; throws `overloaded` (without running it) when the queue is full. */
  async run<T>(hash: () => Promise<T>): Promise<T> {
    if (this.#busy) {
      this.assertCapacity();
      // The slot is handed over by #release (the gate stays busy in between, so arrivals queue behind).
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#busy = true;
    }
    try {
      await this.#readsDone();
      return await hash();
    } finally {
      this.#release();
    }
  }

  /** Marks `work` as an authenticated read in flight: hashes wait for it (within maxReadWaitMs). */
  async read<T>(work: () => Promise<T>): Promise<T> {
    this.#reads++;
    try {
      return await work();
    } finally {
      this.#reads--;
      if (this.#reads === 0) for (const resolve of this.#readsDrained.splice(0)) resolve();
    }
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (!next) {
      this.#busy = false;
      return;
    }
    // A macrotask, not a microtask: requests whose I/O completed during the hash run first.
    void nextMacrotask().then(next);
  }

  async #readsDone(): Promise<void> {
    if (this.#reads === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.#readsDrained.push(resolve)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#maxReadWaitMs);
      }),
    ]);
    clearTimeout(timer);
  }
}

/** `inner` with every hash and verification through `gate`. */
export function gatedHasher(inner: PasswordHasher, gate: HashGate): PasswordHasher {
  return {
    hash: (password) => gate.run(() => inner.hash(password)),
    verify: (password, stored) => gate.run(() => inner.verify(password, stored)),
    dummyHash: inner.dummyHash,
  };
}

/** The isolate's gate: module state on purpose, since the thread it protects is the isolate's. */
export const isolateHashGate = new HashGate();
