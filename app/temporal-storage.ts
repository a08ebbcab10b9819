/**
 * The embedded Temporal server's durable storage, opened from configuration:
 * a PostgreSQL server (schema `temporal`, beside the FHIR store's `fhir`) or
 * PGlite in its own directory (one PGlite directory serves one process).
 */
import { mkdirSync } from 'node:fs';
import { openPglite, openPostgres } from '../fhir/store';
import { SqlStorage } from '../temporal/embedded';

export async function openTemporalStorage(where: { databaseUrl?: string; dataDir: string }): Promise<SqlStorage> {
  if (where.databaseUrl) return SqlStorage.open(await openPostgres(where.databaseUrl));
  mkdirSync(where.dataDir, { recursive: true });
  return SqlStorage.open(await openPglite(where.dataDir));
}
