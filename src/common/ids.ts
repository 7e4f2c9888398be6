const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else can never match a row (and must not reach a `::uuid` cast). */
export const isUuid = (id: string) => UUID.test(id);

/** The rows a batch query returned, in the order of the ids asked for (undefined where none): what DataLoader needs. */
export function inKeyOrder<R extends { id: string }>(ids: readonly string[], rows: R[]): (R | undefined)[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id.toLowerCase()));
}
