export { FhirStore, type SearchResult, type WriteOptions } from './store';
export type { AccessScope } from './access';
export { openPglite, openPostgres, type Db } from './db';
export { SCHEMA_VERSION } from './migrations';
