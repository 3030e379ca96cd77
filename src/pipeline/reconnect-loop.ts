/**
 * The reconnect loop of a replication run, as an explicit state machine. The model is the
 * Dragonfly replica's `Replica::MainReplicationFiber` (src/server/replica.cc): connect → greet →
 * sync → stable, and on any error back to connect, with a pause.
 *
 * ```
 *   connect ──► greet ──► sync (partial or full) ──► stable
 *      ▲                                               │ fault (lost / closed / timed-out
 *      │                                               │ connection, source or target)
 *      └──────────── backoff ◄──────────────────────────┘ (from any state but gave-up)
 *                       │ no stable sync again within the give-up time
 *                       ▼
 *                    gave-up (the run fails with the last fault)
 * ```
 *
 * Each new attempt reads the target's checkpoint (src/pipeline/checkpoint.ts) and resumes from it:
 * the loop itself holds no replication state, only when to try again. Backoff: 500 ms doubling up to
 * 10 s (the Dragonfly replica waits 500 ms between attempts, `Replica::MainReplicationFb`); the
 * give-up clock starts at the first fault and stops once stable sync is reached again.
 */

/** A state of {@link ReconnectLoop}. */
export type ReconnectState = 'connect' | 'greet' | 'sync' | 'stable' | 'backoff' | 'gave-up';

/** First pause after a fault, in ms. */
export const RECONNECT_FIRST_DELAY_MS = 500;
/** Longest pause between attempts, in ms. */
export const RECONNECT_MAX_DELAY_MS = 10_000;

/** When to try again after a fault; see the module comment. */
export class ReconnectLoop {
  readonly #giveUpMs: number;
  #state: ReconnectState = 'connect';
  /** When the current outage began (Date.now() ms), or undefined while healthy. */
  #outageSinceMs: number | undefined;
  #attempts = 0;
  /** Faults answered with a new attempt, over the whole run. */
  reconnects = 0;

  /** `giveUpMs`: longest outage (from its first fault to stable sync again); 0 = never reconnect. */
  constructor(giveUpMs: number) {
    this.#giveUpMs = giveUpMs;
  }

  get state(): ReconnectState {
    return this.#state;
  }

  /** Since when the run has been trying to get back to stable sync (ms since the epoch), or undefined. */
  get outageSinceMs(): number | undefined {
    return this.#outageSinceMs;
  }

  /** The attempt moved on: `connect` → `greet` → `sync` → `stable`. Stable ends the outage. */
  enter(state: Exclude<ReconnectState, 'backoff' | 'gave-up'>): void {
    if (this.#state === 'gave-up') return;
    this.#state = state;
    if (state === 'stable') {
      this.#outageSinceMs = undefined;
      this.#attempts = 0;
    }
  }

  /**
   * A fault ended the current attempt. Returns the pause before the next attempt in ms, or
   * undefined when the loop gives up (never reconnecting, or the outage lasted the give-up time).
   */
  onFault(nowMs = Date.now()): number | undefined {
    if (this.#giveUpMs <= 0 || this.#state === 'gave-up') {
      this.#state = 'gave-up';
      return undefined;
    }
    this.#outageSinceMs ??= nowMs;
    const delay = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_FIRST_DELAY_MS * 2 ** Math.min(this.#attempts, 16));
    if (nowMs + delay - this.#outageSinceMs > this.#giveUpMs) {
      this.#state = 'gave-up';
      return undefined;
    }
    this.#attempts++;
    this.reconnects++;
    this.#state = 'backoff';
    return delay;
  }
}
