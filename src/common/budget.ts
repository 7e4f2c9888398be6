/**
 * How many long-running streams of one kind (exports, uploads) may hold a database connection at once. One beyond the
 * budget is refused with 503 BUSY (and Retry-After) rather than queued: queued streams would take the connections every
 * other request needs.
 */
export class ConcurrencyBudget {
  private active = 0;
  constructor(readonly limit: number) {}
  /** A slot, or undefined when the budget is spent; the returned function gives the slot back (once). */
  take(): (() => void) | undefined {
    if (this.active >= this.limit) return undefined;
    this.active++;
    let given = false;
    return () => {
      if (!given) this.active--;
      given = true;
    };
  }
}
