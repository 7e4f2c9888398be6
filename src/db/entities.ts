/**
 * TypeORM entity classes. The stores speak set-based SQL through the data source's entity managers (every rule here is
 * a set operation over many rows), so no table is mapped to an entity yet; the schema lives in migrations/.
 */
export const entities: (new () => object)[] = [];
