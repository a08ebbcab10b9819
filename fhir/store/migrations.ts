/**
 * Versioned schema migrations of the FHIR store (schema `fhir`), applied at
 * start-up in order; a database newer than this code refuses to start.
 */
import type { Resource } from '@medplum/fhirtypes';
import { participatingOrganisations } from '../../server/auth/organisation-access';
import { accessRows } from './access';
import type { Db, Queryable } from './db';
import { FAILED_EVENT_MIGRATION } from './failed-event-table';

/** SQL statements separated by ";", or steps that need to look at the database first. */
type Migration = string | ((tx: Queryable) => Promise<void>);

const MIGRATIONS: Migration[] = [
  // 1: current resources, their full history, and search index rows.
  `CREATE TABLE fhir.resource (
     resource_type text NOT NULL, id text NOT NULL, version_id integer NOT NULL,
     last_updated timestamptz NOT NULL, deleted boolean NOT NULL DEFAULT false, content jsonb NOT NULL,
     PRIMARY KEY (resource_type, id));
   CREATE TABLE fhir.resource_history (
     resource_type text NOT NULL, id text NOT NULL, version_id integer NOT NULL,
     last_updated timestamptz NOT NULL, deleted boolean NOT NULL, content jsonb NOT NULL,
     PRIMARY KEY (resource_type, id, version_id));
   CREATE TABLE fhir.token_index (resource_type text NOT NULL, id text NOT NULL, param text NOT NULL, system text, code text);
   CREATE INDEX token_lookup ON fhir.token_index (resource_type, param, code, system);
   CREATE INDEX token_owner ON fhir.token_index (resource_type, id);
   CREATE TABLE fhir.reference_index (resource_type text NOT NULL, id text NOT NULL, param text NOT NULL, target text NOT NULL);
   CREATE INDEX reference_lookup ON fhir.reference_index (resource_type, param, target);
   CREATE INDEX reference_owner ON fhir.reference_index (resource_type, id);
   CREATE INDEX reference_target ON fhir.reference_index (target);
   CREATE TABLE fhir.date_index (resource_type text NOT NULL, id text NOT NULL, param text NOT NULL, low timestamptz, high timestamptz);
   CREATE INDEX date_lookup ON fhir.date_index (resource_type, param, low, high);
   CREATE INDEX date_owner ON fhir.date_index (resource_type, id);`,
  // 2: the change log (every stored version, in commit order on PGlite) and
  // the checkpoints of its readers (the event router).
  `CREATE TABLE fhir.change (seq bigserial PRIMARY KEY, resource_type text NOT NULL, id text NOT NULL, version_id integer NOT NULL);
   CREATE TABLE fhir.reader_checkpoint (reader text PRIMARY KEY, seq bigint NOT NULL)`,
  // 3: resources as json, not jsonb. Nothing queries inside them (search has its index
  // tables), and jsonb costs twice as much to store: on PGlite 80 µs against 38 µs for an
  // AuditEvent of 1.4 kB, and every version is stored twice (current and history).
  `ALTER TABLE fhir.resource ALTER COLUMN content TYPE json USING content::json;
   ALTER TABLE fhir.resource_history ALTER COLUMN content TYPE json USING content::json`,
  // 4: the history holds the versions that were replaced; the current one is stored once, in
  // fhir.resource (most resources, AuditEvents above all, are never changed: this halves what a
  // create writes). fhir.resource_version is every version, for vread, _history and the change feed.
  `DELETE FROM fhir.resource_history h USING fhir.resource r WHERE h.resource_type = r.resource_type AND h.id = r.id AND h.version_id = r.version_id;
   CREATE VIEW fhir.resource_version AS
     SELECT resource_type, id, version_id, last_updated, deleted, content FROM fhir.resource_history
     UNION ALL SELECT resource_type, id, version_id, last_updated, deleted, content FROM fhir.resource`,
  // 5: write generations: a counter per resource type, bumped by every statement that writes one
  // (in that statement, so it commits with the write), for caches of facts derived from these
  // types. Kept only for the types listed here, so that writes of other types (AuditEvents at
  // every request) do not all queue on one row: the family membership organisation-level access
  // caches (server/fhir-access.ts).
  `CREATE TABLE fhir.write_generation (resource_type text PRIMARY KEY, generation bigint NOT NULL);
   INSERT INTO fhir.write_generation (resource_type, generation) VALUES ('Patient', 0), ('CarePlan', 0), ('CareTeam', 0), ('EpisodeOfCare', 0)`,
  // 6: AuditEvents in a table of their own (audit-events.ts): one row each, its columns holding the
  // values of their search parameters, instead of a current row and search index rows in two more
  // tables (the largest part of what audit cost a read). Those already stored move here, their
  // patients taken from their index rows, and leave the generic tables.
  `CREATE TABLE fhir.audit_event (
     id text PRIMARY KEY, last_updated timestamptz NOT NULL, recorded timestamptz NOT NULL,
     type_system text, type_code text, patients text[] NOT NULL, content json NOT NULL);
   CREATE INDEX audit_event_recorded ON fhir.audit_event (recorded);
   CREATE INDEX audit_event_last_updated ON fhir.audit_event (last_updated);
   CREATE INDEX audit_event_patients ON fhir.audit_event USING gin (patients);
   INSERT INTO fhir.audit_event (id, last_updated, recorded, type_system, type_code, patients, content)
     SELECT r.id, r.last_updated, (r.content->>'recorded')::timestamptz,
            CASE WHEN r.content->'type'->>'code' IS NOT NULL THEN r.content->'type'->>'system' END, r.content->'type'->>'code',
            ARRAY(SELECT DISTINCT x.target FROM fhir.reference_index x WHERE x.resource_type = 'AuditEvent' AND x.id = r.id AND x.param = 'patient'),
            r.content
       FROM fhir.resource r WHERE r.resource_type = 'AuditEvent' AND NOT r.deleted;
   DELETE FROM fhir.token_index WHERE resource_type = 'AuditEvent';
   DELETE FROM fhir.reference_index WHERE resource_type = 'AuditEvent';
   DELETE FROM fhir.date_index WHERE resource_type = 'AuditEvent';
   DELETE FROM fhir.resource_history WHERE resource_type = 'AuditEvent';
   DELETE FROM fhir.resource WHERE resource_type = 'AuditEvent'`,
  // 7: resources of more than about 2 kB (most AuditEvents: one of a Task read is 2.5 kB) are
  // compressed with lz4 instead of pglz where the server has it (PostgreSQL 14 and later built
  // with it, as Debian's and the postgres image are; PGlite has only pglz). Under Task reads
  // through the API with auth and audit, pglz took a tenth of the PostgreSQL server's CPU (perf),
  // some 12 µs a request; lz4 stores an AuditEvent 5 % larger (1.19 kB instead of 1.13), and the
  // reads cost 46.5 % instead of 50.4 % in a paired A/B (docs/security.md, Cost). Only values
  // written from now on: stored ones keep their compression.
  async (tx) => {
    const { rows } = await tx.query<{ lz4: boolean }>(`SELECT 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'`);
    if (!rows[0]?.lz4) return;
    for (const table of ['audit_event', 'resource', 'resource_history']) await tx.query(`ALTER TABLE fhir.${table} ALTER COLUMN content SET COMPRESSION lz4`);
  },
  // 8: organisation-level access in SQL (access.ts): per current resource, the organisations taking
  // part in it and the family members it is about; per AuditEvent, its organisations. Searches then
  // filter in their query, so totals and paging count only what the caller may see (issue #20).
  async (tx) => {
    await tx.query(`CREATE TABLE fhir.access_index (resource_type text NOT NULL, id text NOT NULL, kind text NOT NULL, target text NOT NULL)`);
    await tx.query('CREATE INDEX access_lookup ON fhir.access_index (kind, target)');
    await tx.query('CREATE INDEX access_owner ON fhir.access_index (resource_type, id)');
    await tx.query(`ALTER TABLE fhir.audit_event ADD COLUMN organisations text[] NOT NULL DEFAULT '{}'`);
    await tx.query('CREATE INDEX audit_event_organisations ON fhir.audit_event USING gin (organisations)');
    const { rows } = await tx.query<{ content: Resource }>('SELECT content FROM fhir.resource WHERE NOT deleted');
    for (const { content } of rows) {
      const { organisations, family } = accessRows(content);
      const tuples = [...organisations.map((t) => ['org', t]), ...family.map((t) => ['family', t])];
      if (tuples.length === 0) continue;
      await tx.query(
        'INSERT INTO fhir.access_index SELECT $1, $2, k, t FROM unnest($3::text[], $4::text[]) AS u(k, t)',
        [content.resourceType, content.id, tuples.map((t) => t[0]), tuples.map((t) => t[1])],
      );
    }
    const audits = await tx.query<{ id: string; content: Resource }>('SELECT id, content FROM fhir.audit_event');
    for (const { id, content } of audits.rows) {
      await tx.query('UPDATE fhir.audit_event SET organisations = $2 WHERE id = $1', [id, [...participatingOrganisations(content as never)]]);
    }
  },
  // 9: changes the event router could never deliver (events/failed-events.ts): kept with the
  // error until an operator retries (after fixing the data) or dismisses them, so one bad write
  // neither stops every family's events nor vanishes. One row per reader and change.
  FAILED_EVENT_MIGRATION,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Applies the migrations this database lacks, up to `upTo` (tests of a migration stop before it). */
export async function migrate(db: Db, upTo = SCHEMA_VERSION): Promise<void> {
  await db.transaction(async (tx) => {
    // Several processes (forlop serve, forlop worker) may start at once against one
    // database: one migrates, the others wait for it and then find nothing to do.
    await tx.query('SELECT pg_advisory_xact_lock(74290001)');
    await tx.query('CREATE SCHEMA IF NOT EXISTS fhir');
    await tx.query('CREATE TABLE IF NOT EXISTS fhir.schema_version (version integer NOT NULL)');
    const { rows } = await tx.query<{ version: number }>('SELECT max(version) AS version FROM fhir.schema_version');
    const current = Number(rows[0]?.version ?? 0);
    if (current > SCHEMA_VERSION) {
      throw new Error(`The FHIR store's database has schema version ${current}, newer than this Forløp understands (${SCHEMA_VERSION}). Run a newer Forløp, or restore a backup made for this version.`);
    }
    for (let v = current + 1; v <= upTo; v++) {
      const migration = MIGRATIONS[v - 1];
      if (typeof migration === 'function') await migration(tx);
      else for (const statement of migration.split(';').map((s) => s.trim()).filter(Boolean)) await tx.query(statement);
      await tx.query('INSERT INTO fhir.schema_version (version) VALUES ($1)', [v]);
    }
  });
}
