import { setImmediate } from 'node:timers/promises';

/** Lets the event loop turn (timers, I/O, other requests) before the caller's work goes on. */
export const nextTurn = (): Promise<void> => setImmediate();

/**
 * Runs `work` over consecutive slices of `items`, letting the event loop turn between two slices, so that a long list
 * (a bulk import's rows, a ledger binding's digest) never holds the loop for more than one slice's worth of work.
 */
export async function eachSlice<T>(
  items: readonly T[],
  size: number,
  work: (slice: T[], offset: number) => void | Promise<void>,
): Promise<void> {
  for (let offset = 0; offset < items.length; offset += size) {
    if (offset > 0) await nextTurn();
    await work(items.slice(offset, offset + size), offset);
  }
}
