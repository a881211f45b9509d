/**
 * A value fetched from the provider (a discovery document, a key set) and kept fresh.
 *
 * - One load in flight: concurrent callers share its promise (the promise is what is cached).
 * - A value older than `maxAgeMs` is still served while a refresh runs in the background, and keeps
 *   being served while the provider is unreachable (stale-while-unreachable).
 * - After a failure, no new load starts until the backoff has passed (doubling from `backoffMinMs`
 *   to `backoffMaxMs`): a provider that is down is not hammered, and a failure is never cached for
 *   longer than the backoff.
 */
import { IdentityError, ProviderUnavailableError } from './errors';

export interface RefreshingValueOptions<T> {
  /** Fetches the value; must reject with an `IdentityError`. */
  load(signal: AbortSignal): Promise<T>;
  /** Milliseconds since the epoch. */
  now(): number;
  /** Age after which a background refresh starts, in ms. */
  maxAgeMs: number;
  /** Wait after the first failure, in ms; doubles with each further failure. */
  backoffMinMs: number;
  /** Longest wait between attempts, in ms. */
  backoffMaxMs: number;
}

export class RefreshingValue<T> {
  private readonly options: RefreshingValueOptions<T>;
  private readonly abort = new AbortController();
  private value: T | undefined;
  private hasValue = false;
  private loadedAtMs = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<T> | undefined;
  private failures = 0;
  private lastError: IdentityError | undefined;
  private nextAttemptAtMs = Number.NEGATIVE_INFINITY;

  constructor(options: RefreshingValueOptions<T>) {
    this.options = options;
  }

  /** The value: the cached one if any (refreshing it in the background when old), else a load. */
  get(): Promise<T> {
    if (this.hasValue) {
      if (this.options.now() - this.loadedAtMs >= this.options.maxAgeMs && this.mayAttempt()) {
        this.start().catch(() => undefined); // recorded in start(); the cached value still serves
      }
      return Promise.resolve(this.value as T);
    }
    return this.refresh();
  }

  /** Starts a background refresh if the value is old and an attempt may be made; never waits. */
  touch(): void {
    if (this.hasValue && this.options.now() - this.loadedAtMs >= this.options.maxAgeMs && this.mayAttempt()) {
      this.start().catch(() => undefined); // recorded in start(); the cached value still serves
    }
  }

  /**
   * Loads now unless a load is already in flight (then joins it) or the backoff has not passed
   * (then answers the cached value, or the last failure).
   */
  refresh(): Promise<T> {
    if (!this.inFlight && !this.mayAttempt()) {
      return this.hasValue ? Promise.resolve(this.value as T) : Promise.reject(this.unavailable());
    }
    return (this.inFlight ?? this.start()).catch(() => {
      if (this.hasValue) return this.value as T;
      throw this.unavailable();
    });
  }

  /** The value loaded last, if any, without waiting or loading. */
  get current(): T | undefined {
    return this.value;
  }

  /** Whether a load is in flight (callers that need fresh data should join it). */
  get loading(): boolean {
    return this.inFlight !== undefined;
  }

  /** Milliseconds until a new attempt may be made (0 when one may be made now). */
  retryAfterMs(): number {
    return Math.max(0, this.nextAttemptAtMs - this.options.now());
  }

  /** The last failure, until a load succeeds. */
  get error(): IdentityError | undefined {
    return this.lastError;
  }

  close(): void {
    this.abort.abort();
  }

  private mayAttempt(): boolean {
    return !this.inFlight && this.options.now() >= this.nextAttemptAtMs;
  }

  private start(): Promise<T> {
    const attempt = this.options.load(this.abort.signal).then(
      (value) => {
        this.value = value;
        this.hasValue = true;
        this.loadedAtMs = this.options.now();
        this.failures = 0;
        this.lastError = undefined;
        this.nextAttemptAtMs = Number.NEGATIVE_INFINITY;
        return value;
      },
      (error: unknown) => {
        this.failures += 1;
        // The exponent is capped so that a long outage never turns the wait into Infinity or NaN.
        const wait = Math.min(this.options.backoffMaxMs, this.options.backoffMinMs * 2 ** Math.min(this.failures - 1, 30));
        this.nextAttemptAtMs = this.options.now() + wait;
        this.lastError = error instanceof IdentityError
          ? error
          : new IdentityError('ERR_INTERNAL', 'unexpected failure while loading', { cause: error });
        throw this.lastError;
      },
    ).finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = attempt;
    return attempt;
  }

  private unavailable(): ProviderUnavailableError {
    const last = this.lastError as IdentityError;
    const retryAfterSec = Math.max(1, Math.ceil(this.retryAfterMs() / 1000));
    return new ProviderUnavailableError(last.code, last.message, retryAfterSec, { cause: last.cause });
  }
}
