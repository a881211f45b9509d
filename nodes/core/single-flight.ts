/**
 * Coalesces concurrent work on the same key: while a call for a key is in flight, every caller with
 * that key gets the same promise. With rotating refresh tokens this is what keeps two concurrent
 * refreshes from spending the same single-use token twice (RFC 9700 §4.14.2), and with
 * client_credentials it turns N concurrent cache misses into one provider call.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  /** Runs `work` unless a call with this key is in flight, whose promise is then shared. */
  run(key: string, work: () => Promise<T>): Promise<T> {
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const started = work().finally(() => {
      this.inFlight.delete(key);
    });
    this.inFlight.set(key, started);
    return started;
  }

  get size(): number {
    return this.inFlight.size;
  }
}
