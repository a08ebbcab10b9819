/**
 * `forlop pathway migrate` against a running deployment: the Temporal
 * frontend and the FHIR store of the configuration (TEMPORAL_ADDRESS,
 * DATABASE_URL; see docs/configuration.md). With PGlite (no DATABASE_URL)
 * the store's data directory is open in `forlop start` and cannot be opened
 * by a second process: migrate against PostgreSQL.
 */
import { FhirStore, openPglite, openPostgres } from '../fhir/store';
import { osloDate } from '../pathways/calendar';
import { PublishedDefinitions } from '../pathways/published-definitions';
import type { DefinitionRegistry } from '../pathways/registry';
import { createDataConverter } from '../temporal/codec';
import { connectClient } from '../temporal/connection';
import { payloadKeys } from './components';
import { loadConfig } from './config';
import { describeMigration, migrateFamilies } from './pathway-migrate';

export async function migrateCommand(registry: DefinitionRegistry, flags: Record<string, string | true> & { from: string; to: string }): Promise<number> {
  const dryRun = flags['dry-run'] === true;
  if (!dryRun && (typeof flags.by !== 'string' || typeof flags.reason !== 'string')) {
    console.error('forlop pathway migrate: a migration is a recorded decision; give --by <who decided> and --reason <why> (or --dry-run to see the changes first)');
    return 2;
  }
  const config = loadConfig();
  const store = await FhirStore.open(config.database.url ? await openPostgres(config.database.url) : await openPglite(config.database.dataDir));
  const client = await connectClient(config.temporal, createDataConverter(payloadKeys(config)));
  try {
    // Definitions published over FHIR count too.
    await new PublishedDefinitions(store, registry).refresh();
    const results = await migrateFamilies(client, store, {
      from: registry.plan(flags.from),
      to: registry.plan(flags.to),
      ...(typeof flags.families === 'string' ? { families: flags.families.split(',').map((f) => f.trim()).filter(Boolean) } : {}),
      dryRun,
      decidedBy: typeof flags.by === 'string' ? flags.by : '(dry run)',
      reason: typeof flags.reason === 'string' ? flags.reason : '(dry run)',
      today: osloDate(Date.now()),
    });
    for (const r of results) console.log(describeMigration(r));
    if (results.length === 0) console.log(`no running family is on ${flags.from}`);
    return results.some((r) => r.outcome === 'stays') ? 1 : 0;
  } finally {
    await client.connection.close();
    await store.close();
  }
}
