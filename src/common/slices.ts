import { setImmediate as nextTurn } from 'node:timers/promises';

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
