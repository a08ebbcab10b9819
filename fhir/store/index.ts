export { FhirStore, type SearchResult, type WriteOptions } from './store';
export { openPglite, openPostgres, type Db } from './db';
export { SCHEMA_VERSION } from './migrations';
