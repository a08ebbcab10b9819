/**
 * The FHIR resource store on PostgreSQL: versioned resources with history,
 * optimistic locking, soft delete, atomic transactions and search over the
 * indexed parameters. Every write is validated first; a failure changes
 * nothing. (https://hl7.org/fhir/R4/http.html)
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { badRequest, conflict, gone, issue, methodNotAllowed, notFound, OperationOutcomeError, outcome, preconditionFailed } from '../outcome';
import { taskMoveProblem, type TaskStatus } from '../task-state';
import { assertValidResource } from '../validate';
import type { Db, Queryable } from './db';
import { AUDIT_EVENT, auditColumns } from './audit-events';
import { indexRows } from './indexing';
import { migrate } from './migrations';
import { accessRows, type AccessScope } from './access';
import { planSearch, type Include } from './search/query';
import { renderCount, renderPage } from './sql';

export interface WriteOptions {
  /** Expected current version (If-Match: W/"n"); a mismatch is 412. */
  ifMatch?: string;
}

export interface SearchResult {
  resources: Resource[];
  /** Resources added by _include/_revinclude (Bundle entries with search.mode 'include'). */
  included: Resource[];
  total?: number;
  offset: number;
  count: number;
}

type Row = { content: Resource; deleted: boolean; version_id: number; last_updated: string | Date; generation?: number };

const COLUMNS = '(resource_type, id, version_id, last_updated, deleted, content)';

function appendOnly(): OperationOutcomeError {
  return new OperationOutcomeError(methodNotAllowed('AuditEvents are an append-only record: they are never changed or deleted'), 405);
}

function versionOf(ifMatch: string): number {
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(ifMatch.trim());
  if (!m) throw new OperationOutcomeError(badRequest(`If-Match must be an ETag such as W/"3", got '${ifMatch}'`), 400);
  return Number(m[1]);
}

/**
 * Write generations kept in memory, for a database this process alone writes
 * (Db.exclusive), so reading one costs no statement. A write of a watched type
 * bumps the generation when it starts and again once it has committed or
 * failed (the function `begin` returns); while one is under way there is no
 * generation to trust.
 */
class LocalGenerations {
  generation = 0;
  inflight = 0;

  begin(): () => void {
    this.generation++;
    this.inflight++;
    return () => {
      this.generation++;
      this.inflight--;
    };
  }
}

/** For a statement whose text is always the same: a PostgreSQL server keeps it prepared (Queryable.query). */
const PREPARED = { prepared: true };

/** The write generation of a shared database: the sum over the kept types (fhir.write_generation). */
const GENERATION = '(SELECT sum(generation)::float8 FROM fhir.write_generation)';

/** One per database, shared by every store object opened on it. */
const localGenerations = new WeakMap<Db, LocalGenerations>();

export class FhirStore {
  private readonly changeListeners = new Set<(resourceType: string) => void>();
  /** Statements sent that carry the write generation (numbered), and the newest-sent one's answer. */
  private sentWithGeneration = 0;
  private seenGeneration = { sent: 0, generation: 0 };
  /** Whether anybody takes marks: only then do reads and searches bring the generation along. */
  private generationWanted = false;

  private constructor(
    private readonly db: Db,
    /** The types whose write generations are kept (fhir.write_generation: fixed by the migrations). */
    private readonly watched: ReadonlySet<string>,
    private readonly local?: LocalGenerations,
  ) {}

  /**
   * Calls `listener` after each committed write made through this store
   * object that enters the change feed, with the resource type (a
   * transaction: once per type), so the feed's readers in this process need
   * not wait for their next poll.
   * Returns the unsubscribe function.
   */
  onChange(listener: (resourceType: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private changed<T>(resourceTypes: Iterable<string>, result: T): T {
    for (const type of new Set(resourceTypes)) {
      // AuditEvents, in their own table, are not in the change feed: its readers (the event router,
      // the subscription notifier) act on none, and each would read back one per API request.
      if (type === AUDIT_EVENT) continue;
      for (const listener of this.changeListeners) listener(type);
    }
    return result;
  }

  static async open(db: Db): Promise<FhirStore> {
    await migrate(db);
    const { rows } = await db.query<{ resource_type: string }>('SELECT resource_type FROM fhir.write_generation');
    const watched = new Set(rows.map((r) => r.resource_type));
    if (!db.exclusive) return new FhirStore(db, watched);
    let local = localGenerations.get(db);
    if (!local) localGenerations.set(db, (local = new LocalGenerations()));
    return new FhirStore(db, watched, local);
  }

  /** Runs a write of resources of `types`: keeps the write generations, and tells the change listeners once it is committed. */
  private async write<T>(types: string[], fn: () => Promise<T>): Promise<T> {
    const done = types.some((t) => this.watched.has(t)) ? this.local?.begin() : undefined;
    try {
      return this.changed(types, await fn());
    } finally {
      done?.();
    }
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async create<T extends Resource>(resource: T): Promise<T> {
    // One statement (writeVersion), so atomic without an explicit transaction.
    return this.write([resource.resourceType], () => this.createIn(this.db, resource));
  }

  /**
   * Creates several resources in one statement: either all are stored or
   * none is. For writers that gather many small resources (the audit trail's
   * group commit). Each is validated first, unless `validate` is false: only
   * for resources the server builds itself from typed code whose tests check
   * every variant fully (the audit trail's AuditEvents, one per request:
   * validating each again took about 40 µs, some 4 % of an audited read).
   */
  async createAll<T extends Resource>(resources: T[], options: { validate?: boolean } = {}): Promise<T[]> {
    const stored = resources.map((resource) => this.prepareCreate(resource, false, options.validate ?? true));
    return this.write(stored.map((r) => r.resourceType), async () => {
      await this.writeVersions(this.db, stored.map((resource) => ({ resource, version: 1, deleted: false, insert: true })));
      return stored;
    });
  }

  async read<T extends Resource>(resourceType: string, id: string): Promise<T> {
    if (resourceType === AUDIT_EVENT) return (await this.readAuditEvent(id)) as T;
    const { rows } = await this.withGeneration((generation) => this.db.query<Row>(`SELECT content, deleted${generation} FROM fhir.resource WHERE resource_type = $1 AND id = $2`, [resourceType, id], PREPARED));
    if (rows.length === 0) throw new OperationOutcomeError(notFound(`${resourceType}/${id} not found`));
    if (rows[0].deleted) throw new OperationOutcomeError(gone(`${resourceType}/${id} was deleted`));
    return rows[0].content as T;
  }

  async vread<T extends Resource>(resourceType: string, id: string, versionId: string): Promise<T> {
    if (resourceType === AUDIT_EVENT) {
      const event = await this.readAuditEvent(id);
      if (versionId !== '1') throw new OperationOutcomeError(notFound(`${resourceType}/${id}/_history/${versionId} not found`));
      return event as T;
    }
    const { rows } = await this.db.query<Row>('SELECT content, deleted FROM fhir.resource_version WHERE resource_type = $1 AND id = $2 AND version_id = $3', [resourceType, id, Number(versionId) || -1], PREPARED);
    if (rows.length === 0) throw new OperationOutcomeError(notFound(`${resourceType}/${id}/_history/${versionId} not found`));
    if (rows[0].deleted) throw new OperationOutcomeError(gone(`${resourceType}/${id} version ${versionId} is a deletion`));
    return rows[0].content as T;
  }

  async update<T extends Resource>(resource: T, options: WriteOptions = {}): Promise<T> {
    return this.write([resource.resourceType], () => this.db.transaction((tx) => this.updateIn(tx, resource, options)));
  }

  async delete(resourceType: string, id: string, options: WriteOptions = {}): Promise<void> {
    await this.write([resourceType], () => this.db.transaction((tx) => this.deleteIn(tx, resourceType, id, options)));
  }

  /** Versions of one resource, newest first (deletions included as entries without a resource). */
  async history(resourceType: string, id: string): Promise<{ versionId: number; deleted: boolean; resource: Resource; lastUpdated: string }[]> {
    if (resourceType === AUDIT_EVENT) {
      const event = await this.readAuditEvent(id);
      return [{ versionId: 1, deleted: false, resource: event, lastUpdated: event.meta!.lastUpdated! }];
    }
    const { rows } = await this.db.query<Row>(
      'SELECT content, deleted, version_id, last_updated FROM fhir.resource_version WHERE resource_type = $1 AND id = $2 ORDER BY version_id DESC',
      [resourceType, id],
      PREPARED,
    );
    if (rows.length === 0) throw new OperationOutcomeError(notFound(`${resourceType}/${id} not found`));
    return rows.map((r) => ({ versionId: r.version_id, deleted: r.deleted, resource: r.content, lastUpdated: new Date(r.last_updated).toISOString() }));
  }

  /** An AuditEvent, from its own table (audit-events.ts): stored once, never changed. */
  private async readAuditEvent(id: string): Promise<Resource> {
    const { rows } = await this.db.query<Row>('SELECT content FROM fhir.audit_event WHERE id = $1', [id], PREPARED);
    if (rows.length === 0) throw new OperationOutcomeError(notFound(`${AUDIT_EVENT}/${id} not found`));
    return rows[0].content;
  }

  /**
   * Searches one resource type. Parameters are FHIR search parameters
   * (https://hl7.org/fhir/R4/search.html); an unsupported one is a 400,
   * never a silently ignored filter.
   */
  async search(resourceType: string, params: Record<string, string | string[]>, options: { scope?: AccessScope } = {}): Promise<SearchResult> {
    const { query, total, includes } = planSearch(resourceType, params, options.scope);
    const { rows } = await this.withGeneration((generation) => {
      const page = renderPage(query, generation);
      return this.db.query<Row>(page.text, page.values);
    });
    let totalCount: number | undefined;
    if (total) {
      const counting = renderCount(query);
      const counted = await this.db.query<{ n: number }>(counting.text, counting.values);
      totalCount = Number(counted.rows[0].n);
    }
    const resources = rows.map((r) => r.content);
    return { resources, included: await this.includes(resources, includes), total: totalCount, offset: query.offset, count: query.limit };
  }

  /**
   * The resources named by `targets` ("Type/id") and every resource of the
   * `via` types that references one of them through the given reference
   * parameter, current versions only, in one statement. A reverse-reference
   * lookup for callers that need a few resources around each of many
   * targets at once (organisation-level access loads families with it).
   */
  async linked(targets: string[], via: { resourceType: string; param: string }[]): Promise<Resource[]> {
    if (targets.length === 0) return [];
    const { rows } = await this.db.query<Row>(
      `SELECT r.content FROM fhir.reference_index x JOIN fhir.resource r ON r.resource_type = x.resource_type AND r.id = x.id
        WHERE x.target = ANY($1) AND (x.resource_type, x.param) IN (SELECT * FROM unnest($2::text[], $3::text[])) AND NOT r.deleted
       UNION ALL
       SELECT r.content FROM fhir.resource r JOIN unnest($1::text[]) t(ref) ON r.resource_type = split_part(t.ref, '/', 1) AND r.id = split_part(t.ref, '/', 2)
        WHERE NOT r.deleted`,
      [targets, via.map((v) => v.resourceType), via.map((v) => v.param)],
      PREPARED,
    );
    // A target can also be found through another (a CarePlan about two family members): once each.
    return [...new Map(rows.map(({ content }) => [`${content.resourceType}/${content.id}`, content])).values()];
  }

  /**
   * A number that grows whenever a resource of one of `types` is written, by
   * this process or any other on the same database: the write and the bump
   * commit together. A cache of facts derived from those resources reads it
   * before using an entry, and an entry made after reading generation g
   * stays good while the generation is still g. Kept only for the types the
   * store's migrations list (fhir.write_generation); another is an error.
   * (It is the sum over all of them, so it also grows with the others.)
   * Undefined while this process is writing one of them (on a database only
   * it writes, PGlite, the generation is kept in memory and costs nothing to
   * read; see LocalGenerations): look up afresh and cache nothing.
   *
   * With `since` (from generationMark()), the answer need only be as new as
   * that mark: reads and searches on a shared database bring the generation
   * along in their statement, and one sent after the mark (by this request
   * or another) saw every write committed before it, so it serves without a
   * statement of its own.
   */
  async writeGeneration(types: string[], since?: number): Promise<number | undefined> {
    const unknown = types.filter((t) => !this.watched.has(t));
    if (unknown.length > 0) throw new Error(`No write generation is kept for ${unknown.join(', ')}: add the type to fhir.write_generation in a store migration`);
    if (this.local) return this.local.inflight > 0 ? undefined : this.local.generation;
    if (since !== undefined && this.seenGeneration.sent > since) return this.seenGeneration.generation;
    const { rows } = await this.db.query<Row>(`SELECT ${GENERATION} AS generation`, [], PREPARED);
    return Number(rows[0].generation);
  }

  /** A mark of now for writeGeneration(types, since): a request takes one when it starts. */
  generationMark(): number {
    this.generationWanted = true;
    return this.sentWithGeneration;
  }

  /**
   * Runs a statement that, on a shared database, also returns the write
   * generation in a column `generation` (`query` puts the text it is given
   * after its select list), and keeps the answer of the newest-sent one.
   */
  private async withGeneration<T extends { rows: Row[] }>(query: (column: string) => Promise<T>): Promise<T> {
    if (this.local || !this.generationWanted) return query('');
    const sent = ++this.sentWithGeneration;
    const result = await query(`, ${GENERATION} AS generation`);
    const row = result.rows[0];
    if (row && sent > this.seenGeneration.sent) this.seenGeneration = { sent, generation: Number(row.generation) };
    return result;
  }

  /** _include: what the matches reference; _revinclude: what references the matches (https://hl7.org/fhir/R4/search.html#revinclude). */
  private async includes(matches: Resource[], includes: Include[]): Promise<Resource[]> {
    if (matches.length === 0 || includes.length === 0) return [];
    const refs = matches.map((r) => `${r.resourceType}/${r.id}`);
    const seen = new Set(refs);
    const out: Resource[] = [];
    for (const inc of includes) {
      const { rows } = inc.source === AUDIT_EVENT
        ? await this.auditIncludes(matches, refs, inc)
        : inc.reverse
        ? await this.db.query<Row>(
            `SELECT r.content FROM fhir.resource r JOIN fhir.reference_index x ON x.resource_type = r.resource_type AND x.id = r.id
              WHERE x.resource_type = $1 AND x.param = $2 AND x.target = ANY($3) AND NOT r.deleted`,
            [inc.source, inc.param, refs],
            PREPARED,
          )
        : await this.db.query<Row>(
            `SELECT r.content FROM fhir.reference_index x JOIN fhir.resource r ON x.target = r.resource_type || '/' || r.id
              WHERE x.resource_type = $1 AND x.param = $2 AND x.id = ANY($3) AND NOT r.deleted ${inc.target ? 'AND r.resource_type = $4' : ''}`,
            inc.target ? [inc.source, inc.param, matches.map((m) => m.id), inc.target] : [inc.source, inc.param, matches.map((m) => m.id)],
            PREPARED,
          );
      for (const { content } of rows) {
        const key = `${content.resourceType}/${content.id}`;
        if (!seen.has(key)) {
          seen.add(key);
          out.push(content);
        }
      }
    }
    return out;
  }

  /** _revinclude of the AuditEvents naming the matches, or _include of what the matching AuditEvents name (patient is their one reference parameter). */
  private async auditIncludes(matches: Resource[], refs: string[], inc: { reverse: boolean; target?: string }): Promise<{ rows: Row[] }> {
    if (inc.reverse) return this.db.query<Row>('SELECT content FROM fhir.audit_event WHERE patients && $1::text[]', [refs], PREPARED);
    const targets = [...new Set(matches.flatMap((m) => auditColumns(m as never).patients))];
    return this.db.query<Row>(
      `SELECT r.content FROM fhir.resource r WHERE r.resource_type || '/' || r.id = ANY($1) AND NOT r.deleted ${inc.target ? 'AND r.resource_type = $2' : ''}`,
      inc.target ? [targets, inc.target] : [targets],
      PREPARED,
    );
  }

  /**
   * A transaction Bundle (https://hl7.org/fhir/R4/http.html#transaction):
   * urn:uuid references between entries are resolved to the ids assigned,
   * and either every entry is stored or none is.
   */
  async transaction(bundle: Bundle): Promise<Bundle> {
    if (bundle.resourceType !== 'Bundle' || bundle.type !== 'transaction') {
      throw new OperationOutcomeError(badRequest("Expected a Bundle of type 'transaction'", 'Bundle.type'), 400);
    }
    const entries = bundle.entry ?? [];
    const ids = new Map<string, string>();
    for (const [i, entry] of entries.entries()) {
      if (entry.request?.method === 'POST' && entry.fullUrl?.startsWith('urn:uuid:') && entry.resource) ids.set(entry.fullUrl, `${entry.resource.resourceType}/${randomUUID()}`);
      if (!entry.request?.method || !entry.request.url) throw new OperationOutcomeError(badRequest('Every transaction entry needs request.method and request.url', `Bundle.entry[${i}].request`), 400);
    }
    const resolve = (value: unknown): unknown => {
      if (typeof value === 'string') return ids.get(value) ?? value;
      if (Array.isArray(value)) return value.map(resolve);
      if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
      return value;
    };
    const types = entries.map((e) => e.resource?.resourceType ?? e.request!.url.split(/[/?]/)[0]);
    const written = types.filter((_, i) => entries[i].request?.method !== 'GET');
    return this.write(written, () => this.db.transaction(async (tx) => {
      const responses: BundleEntry[] = [];
      // Creates are validated one by one and written together (one statement), before
      // any entry that reads or changes stored resources, and at the end.
      let pending: Resource[] = [];
      const flush = async () => {
        await this.writeVersions(tx, pending.map((resource) => ({ resource, version: 1, deleted: false, insert: true })));
        pending = [];
      };
      for (const [i, entry] of entries.entries()) {
        const method = entry.request!.method;
        try {
          const resource = entry.resource ? (resolve(entry.resource) as Resource) : undefined;
          if (method === 'POST') {
            const assigned = entry.fullUrl ? ids.get(entry.fullUrl) : undefined;
            const stored = this.prepareCreate({ ...resource!, id: assigned?.split('/')[1] }, Boolean(assigned));
            pending.push(stored);
            // Bounded statements: PostgreSQL takes at most 65,535 parameters.
            if (pending.length >= 200) await flush();
            responses.push({ resource: stored, response: { status: '201 Created', location: `${stored.resourceType}/${stored.id}/_history/${stored.meta?.versionId}` } });
          } else if (method === 'PUT') {
            await flush();
            const stored = await this.updateIn(tx, resource!, { ifMatch: entry.request!.ifMatch });
            responses.push({ resource: stored, response: { status: '200 OK', etag: `W/"${stored.meta?.versionId}"` } });
          } else if (method === 'DELETE') {
            await flush();
            const [type, id] = entry.request!.url.split('/');
            await this.deleteIn(tx, type, id, {});
            responses.push({ response: { status: '204 No Content' } });
          } else {
            throw new OperationOutcomeError(badRequest(`Transaction entries support POST, PUT and DELETE, not ${method}`, `Bundle.entry[${i}].request.method`), 400);
          }
        } catch (error) {
          if (error instanceof OperationOutcomeError) {
            // Name the entry at fault; the whole transaction is rolled back.
            const issues = (error.outcome.issue ?? []).map((issue) => ({ ...issue, expression: (issue.expression ?? ['']).map((e) => `Bundle.entry[${i}].resource${e ? `.${e.replace(/^[A-Za-z]+\.?/, '')}` : ''}`.replace(/\.$/, '')) }));
            throw new OperationOutcomeError({ ...error.outcome, issue: issues }, error.status);
          }
          throw error;
        }
      }
      await flush();
      return { resourceType: 'Bundle', type: 'transaction-response', entry: responses } as Bundle;
    }));
  }

  /**
   * Stored versions after `seq`, oldest first: the change feed readers such
   * as the event router follow. Each version appears once, with its content;
   * AuditEvents are not in it (see `changed`).
   * (On a PostgreSQL server with concurrent writers a later seq can commit
   * first; readers there must re-read a short window. PGlite writes serially.)
   */
  async changesAfter(seq: number, limit = 100): Promise<{ seq: number; resource: Resource; deleted: boolean }[]> {
    const { rows } = await this.db.query<{ seq: string | number; content: Resource; deleted: boolean }>(
      // Each change's version by its key, from whichever table holds it (joining the view
      // fhir.resource_version instead would read all of both tables).
      `SELECT c.seq, v.content, v.deleted FROM (SELECT * FROM fhir.change WHERE seq > $1 ORDER BY seq LIMIT $2) c
       CROSS JOIN LATERAL (
         SELECT content, deleted FROM fhir.resource r WHERE r.resource_type = c.resource_type AND r.id = c.id AND r.version_id = c.version_id
         UNION ALL
         SELECT content, deleted FROM fhir.resource_history h WHERE h.resource_type = c.resource_type AND h.id = c.id AND h.version_id = c.version_id
       ) v ORDER BY c.seq`,
      [seq, limit],
      PREPARED,
    );
    return rows.map((r) => ({ seq: Number(r.seq), resource: r.content, deleted: r.deleted }));
  }

  async checkpoint(reader: string): Promise<number> {
    const { rows } = await this.db.query<{ seq: string | number }>('SELECT seq FROM fhir.reader_checkpoint WHERE reader = $1', [reader], PREPARED);
    return rows.length ? Number(rows[0].seq) : 0;
  }

  async saveCheckpoint(reader: string, seq: number): Promise<void> {
    await this.db.query('INSERT INTO fhir.reader_checkpoint (reader, seq) VALUES ($1, $2) ON CONFLICT (reader) DO UPDATE SET seq = EXCLUDED.seq', [reader, seq], PREPARED);
  }

  private async createIn<T extends Resource>(tx: Queryable, resource: T, keepId = false): Promise<T> {
    const stored = this.prepareCreate(resource, keepId);
    await this.writeVersion(tx, stored, 1, false, true);
    return stored;
  }

  /** The first version of a resource, validated (throws the OperationOutcome of every fault). */
  private prepareCreate<T extends Resource>(resource: T, keepId = false, validate = true): T {
    const id = keepId && resource.id ? resource.id : randomUUID();
    const stored = { ...resource, id, meta: { ...resource.meta, versionId: '1', lastUpdated: new Date().toISOString() } } as T;
    if (validate) assertValidResource(stored);
    return stored;
  }

  private async updateIn<T extends Resource>(tx: Queryable, resource: T, options: WriteOptions): Promise<T> {
    if (!resource.id) throw new OperationOutcomeError(badRequest('An update needs the resource id', `${resource.resourceType}.id`), 400);
    if (resource.resourceType === AUDIT_EVENT) throw appendOnly();
    const { rows } = await tx.query<Row & { status: string | null }>("SELECT version_id, deleted, content->>'status' AS status FROM fhir.resource WHERE resource_type = $1 AND id = $2 FOR UPDATE", [resource.resourceType, resource.id], PREPARED);
    const current = rows[0];
    if (resource.resourceType === 'Task' && current && !current.deleted && current.status) {
      // FHIR's Task state machine: a handoff's Task cannot jump back or skip ahead.
      const problem = taskMoveProblem(current.status as TaskStatus, (resource as Resource & { status: TaskStatus }).status);
      if (problem) throw new OperationOutcomeError(outcome(issue('business-rule', problem, 'Task.status')), 422);
    }
    if (options.ifMatch !== undefined) {
      const expected = versionOf(options.ifMatch);
      if (!current || current.version_id !== expected) {
        throw new OperationOutcomeError(preconditionFailed(`Version mismatch: If-Match W/"${expected}" but ${resource.resourceType}/${resource.id} is at version ${current?.version_id ?? 'none'}`), 412);
      }
    }
    const version = (current?.version_id ?? 0) + 1;
    const stored = { ...resource, meta: { ...resource.meta, versionId: String(version), lastUpdated: new Date().toISOString() } } as T;
    assertValidResource(stored);
    await this.writeVersion(tx, stored, version, false, !current);
    return stored;
  }

  private async deleteIn(tx: Queryable, resourceType: string, id: string, options: WriteOptions): Promise<void> {
    if (resourceType === AUDIT_EVENT) throw appendOnly();
    const { rows } = await tx.query<Row>('SELECT version_id, deleted, content FROM fhir.resource WHERE resource_type = $1 AND id = $2 FOR UPDATE', [resourceType, id], PREPARED);
    const current = rows[0];
    if (!current) throw new OperationOutcomeError(notFound(`${resourceType}/${id} not found`));
    if (current.deleted) return;
    if (options.ifMatch !== undefined && current.version_id !== versionOf(options.ifMatch)) {
      throw new OperationOutcomeError(preconditionFailed(`Version mismatch: If-Match ${options.ifMatch} but ${resourceType}/${id} is at version ${current.version_id}`), 412);
    }
    const version = current.version_id + 1;
    const tombstone = { ...current.content, meta: { ...current.content.meta, versionId: String(version), lastUpdated: new Date().toISOString() } } as Resource;
    await this.writeVersion(tx, tombstone, version, true, false);
  }

  private async writeVersion(tx: Queryable, resource: Resource, version: number, deleted: boolean, insert: boolean): Promise<void> {
    await this.writeVersions(tx, [{ resource, version, deleted, insert }]);
  }

  /**
   * Versions of resources: current rows, history rows and search index rows,
   * all in ONE statement (multi-row VALUES in data-modifying CTEs), because on
   * PGlite and over a network statements, not rows, are what cost. A single
   * statement is atomic on its own.
   */
  private async writeVersions(tx: Queryable, items: { resource: Resource; version: number; deleted: boolean; insert: boolean }[]): Promise<void> {
    if (items.length === 0) return;
    const params: unknown[] = [];
    const add = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    // A value that repeats within one column type (the resource type, a search parameter's name, a
    // code, a timestamp) is sent once: every parameter costs a conversion, and a batch of AuditEvents
    // repeats most of theirs (1.5 points of the audit trail's cost through the API). Kept apart by
    // type, since PostgreSQL gives each parameter one.
    const sent = { text: new Map<unknown, string>(), ts: new Map<unknown, string>(), int: new Map<unknown, string>(), bool: new Map<unknown, string>() };
    const once = (kind: keyof typeof sent, v: unknown) => {
      let placeholder = sent[kind].get(v);
      if (!placeholder) sent[kind].set(v, (placeholder = add(v)));
      return placeholder;
    };
    const inserts: string[] = [];
    const audits: string[] = [];
    const changed: string[] = [];
    const changes: string[] = [];
    const index: Record<'token_index' | 'reference_index' | 'date_index' | 'access_index', string[]> = { token_index: [], reference_index: [], date_index: [], access_index: [] };
    for (const { resource, version, deleted, insert } of items) {
      if (resource.resourceType === AUDIT_EVENT) {
        // Its own table (audit-events.ts): one row, no search index rows, never a second version.
        if (!insert || version !== 1 || deleted) throw appendOnly();
        const c = auditColumns(resource as never);
        audits.push(`(${add(resource.id)}, ${once('ts', resource.meta!.lastUpdated)}, ${once('ts', c.recorded)}, ${once('text', c.typeSystem)}, ${once('text', c.typeCode)}, ${add(c.patients)}, ${add(c.organisations)}, ${add(JSON.stringify(resource))})`);
        continue;
      }
      // The content goes as JSON text: given an object, PGlite serialises it through a replacer function.
      const [type, id, v, updated, del, content] = [once('text', resource.resourceType), once('text', resource.id), once('int', version), once('ts', resource.meta!.lastUpdated), once('bool', deleted), add(JSON.stringify(resource))];
      const tuple = `(${type}, ${id}, ${v}, ${updated}, ${del}, ${content})`;
      changed.push(`(${type}, ${id}, ${v})`);
      if (insert) inserts.push(tuple);
      else {
        // The version being replaced moves to the history (every part of the statement reads the
        // rows as they were before it, so this copies the old version, not the new one).
        changes.push(`INSERT INTO fhir.resource_history ${COLUMNS} SELECT ${COLUMNS.slice(1, -1)} FROM fhir.resource WHERE resource_type = ${type} AND id = ${id}`);
        changes.push(`UPDATE fhir.resource SET version_id = ${v}, last_updated = ${updated}, deleted = ${del}, content = ${content} WHERE resource_type = ${type} AND id = ${id}`);
        for (const table of Object.keys(index)) changes.push(`DELETE FROM fhir.${table} WHERE resource_type = ${type} AND id = ${id}`);
      }
      if (deleted) continue;
      const rows = indexRows(resource);
      for (const t of rows.tokens) index.token_index.push(`(${type}, ${id}, ${once('text', t.param)}, ${once('text', t.system)}, ${once('text', t.code)})`);
      for (const r of rows.references) index.reference_index.push(`(${type}, ${id}, ${once('text', r.param)}, ${once('text', r.target)})`);
      for (const d of rows.dates) index.date_index.push(`(${type}, ${id}, ${once('text', d.param)}, ${once('ts', d.low)}, ${once('ts', d.high)})`);
      const access = accessRows(resource);
      for (const o of access.organisations) index.access_index.push(`(${type}, ${id}, ${once('text', 'org')}, ${once('text', o)})`);
      for (const f of access.family) index.access_index.push(`(${type}, ${id}, ${once('text', 'family')}, ${once('text', f)})`);
    }
    const watchedTypes = [...new Set(items.map((i) => i.resource.resourceType))].filter((t) => this.watched.has(t));
    const parts = [
      ...(inserts.length ? [`INSERT INTO fhir.resource ${COLUMNS} VALUES ${inserts.join(', ')}`] : []),
      ...(audits.length ? [`INSERT INTO fhir.audit_event (id, last_updated, recorded, type_system, type_code, patients, organisations, content) VALUES ${audits.join(', ')}`] : []),
      ...changes,
      ...(watchedTypes.length ? [`UPDATE fhir.write_generation SET generation = generation + 1 WHERE resource_type = ANY(${add(watchedTypes)})`] : []),
      ...(changed.length ? [`INSERT INTO fhir.change (resource_type, id, version_id) VALUES ${changed.join(', ')}`] : []),
      ...Object.entries(index).filter(([, tuples]) => tuples.length).map(([table, tuples]) => `INSERT INTO fhir.${table} VALUES ${tuples.join(', ')}`),
    ];
    try {
      await tx.query(`WITH ${parts.map((part, i) => `w${i} AS (${part})`).join(', ')} SELECT 1`, params);
    } catch (error) {
      if (/duplicate key|unique/i.test(String(error))) {
        const ids = items.filter((i) => i.insert).map((i) => `${i.resource.resourceType}/${i.resource.id}`);
        throw new OperationOutcomeError(conflict(`${ids.length === 1 ? ids[0] : 'A resource with one of these ids'} already exists`), 409);
      }
      throw error;
    }
  }
}

