/**
 * Failed events: changes the event router can never deliver as they stand
 * (an unknown pathway definition, an enrolment without a due date or birth
 * date, a family whose enrolment failed, a change Temporal refuses). Each is
 * kept in `fhir.failed_event` with the change (the stored version, as it was),
 * the error and the time, until an operator retries it after fixing the data
 * or dismisses it with a reason (GET/POST /api/failed-events). The router
 * moves on past it, so one bad write never holds up another family.
 *
 * States: `failed` (listed, waiting for an operator or for the family's
 * enrolment), `retry` (an operator asked for another attempt; the router
 * makes it on its next pass), `delivered` (a later attempt got through),
 * `superseded` (a newer version of the same resource was delivered),
 * `dismissed` (an operator said why it needs no delivery).
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../fhir/store/db';

export type FailureCause =
  /** The EpisodeOfCare's pathway code is not a known definition. */
  | 'unknown-definition'
  /** An enrolment with neither a due date nor a birth date. */
  | 'missing-anchor'
  /** The change is about a mother whose enrolment failed: it waits for her family (order matters). */
  | 'no-family'
  /** Temporal refused the start or signal as invalid. */
  | 'refused'
  /** The change cannot be applied as written: a screening that cannot be scored, or one linked to a step it cannot fulfil. It waits for a corrected version. */
  | 'not-applicable'
  /** An error that is not known to pass, after repeated attempts. */
  | 'gave-up';

export type FailedEventState = 'failed' | 'retry' | 'delivered' | 'superseded' | 'dismissed';

/** A failed event as the coordinator API shows it (no resource content: GET the resource for that). */
export interface FailedEvent {
  id: string;
  /** The change's position in the store's change feed. */
  seq: number;
  /** The stored version that could not be delivered, e.g. "EpisodeOfCare/123/_history/1". */
  resource: string;
  /** The mother the change is about (the family). */
  patient: string;
  familyId?: string;
  cause: FailureCause;
  error: string;
  state: FailedEventState;
  attempts: number;
  firstFailed: string;
  lastFailed: string;
  resolved?: string;
  resolution?: string;
  resolvedBy?: string;
  /** The Communication that told the family's coordinator. */
  notice?: string;
}

export interface FailedEventRow extends FailedEvent {
  content: Resource;
}

interface Row {
  id: string | number;
  seq: string | number;
  resource_type: string;
  resource_id: string;
  version_id: number;
  patient: string;
  family_id: string | null;
  cause: string;
  error: string;
  state: string;
  attempts: number;
  first_failed: Date | string;
  last_failed: Date | string;
  resolved: Date | string | null;
  resolution: string | null;
  resolved_by: string | null;
  notice: string | null;
  content: Resource | string;
}

const iso = (value: Date | string) => new Date(value).toISOString();

function fromRow(row: Row): FailedEventRow {
  return {
    id: String(row.id),
    seq: Number(row.seq),
    resource: `${row.resource_type}/${row.resource_id}/_history/${row.version_id}`,
    patient: row.patient,
    ...(row.family_id ? { familyId: row.family_id } : {}),
    cause: row.cause as FailureCause,
    error: row.error,
    state: row.state as FailedEventState,
    attempts: row.attempts,
    firstFailed: iso(row.first_failed),
    lastFailed: iso(row.last_failed),
    ...(row.resolved ? { resolved: iso(row.resolved) } : {}),
    ...(row.resolution ? { resolution: row.resolution } : {}),
    ...(row.resolved_by ? { resolvedBy: row.resolved_by } : {}),
    ...(row.notice ? { notice: row.notice } : {}),
    content: typeof row.content === 'string' ? (JSON.parse(row.content) as Resource) : row.content,
  };
}

export interface NewFailure {
  reader: string;
  seq: number;
  resource: Resource;
  patient: string;
  familyId?: string;
  cause: FailureCause;
  error: string;
}

export class FailedEvents {
  constructor(
    private readonly db: Queryable,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Records a change as failed (again, if it is already listed: a crash between recording and
   * the checkpoint, or a retry that failed). Returns the row and whether it is new.
   */
  async record(failure: NewFailure): Promise<{ event: FailedEventRow; isNew: boolean }> {
    const { resource } = failure;
    const now = this.now().toISOString();
    const { rows } = await this.db.query<Row & { inserted: boolean }>(
      `INSERT INTO fhir.failed_event (reader, seq, resource_type, resource_id, version_id, patient, family_id, cause, error, state, first_failed, last_failed, content)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'failed', $10, $10, $11)
       ON CONFLICT (reader, seq) DO UPDATE SET cause = EXCLUDED.cause, error = EXCLUDED.error, state = 'failed',
         attempts = fhir.failed_event.attempts + 1, last_failed = EXCLUDED.last_failed
       RETURNING *, (xmax = 0) AS inserted`,
      [failure.reader, failure.seq, resource.resourceType, resource.id, Number(resource.meta?.versionId ?? 1), failure.patient, failure.familyId ?? null, failure.cause, failure.error, now, JSON.stringify(resource)],
    );
    return { event: fromRow(rows[0]), isNew: Boolean(rows[0].inserted) };
  }

  async setNotice(id: string, notice: string): Promise<void> {
    await this.db.query('UPDATE fhir.failed_event SET notice = $2 WHERE id = $1', [id, notice]);
  }

  async get(id: string): Promise<FailedEventRow | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const { rows } = await this.db.query<Row>('SELECT * FROM fhir.failed_event WHERE id = $1', [id]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /** Failed events in these states, oldest change first. */
  async list(states: FailedEventState[], reader?: string): Promise<FailedEventRow[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT * FROM fhir.failed_event WHERE state = ANY($1::text[]) ${reader ? 'AND reader = $2' : ''} ORDER BY seq, id`,
      reader ? [states, reader] : [states],
    );
    return rows.map(fromRow);
  }

  /** The failed events of one mother still waiting (state failed), oldest change first. */
  async waiting(reader: string, patient: string): Promise<FailedEventRow[]> {
    const { rows } = await this.db.query<Row>(`SELECT * FROM fhir.failed_event WHERE reader = $1 AND patient = $2 AND state IN ('failed', 'retry') ORDER BY seq`, [reader, patient]);
    return rows.map(fromRow);
  }

  /** An operator asks for another attempt; false when the event is not waiting (already delivered or dismissed). */
  async requestRetry(id: string, by: string): Promise<boolean> {
    const { rows } = await this.db.query(`UPDATE fhir.failed_event SET state = 'retry', resolved_by = $2 WHERE id = $1 AND state IN ('failed', 'retry') RETURNING id`, [id, by]);
    return rows.length > 0;
  }

  /** An operator dismisses it with a reason; false when the event is no longer waiting. */
  async dismiss(id: string, reason: string, by: string): Promise<boolean> {
    const { rows } = await this.db.query(
      `UPDATE fhir.failed_event SET state = 'dismissed', resolution = $2, resolved_by = $3, resolved = $4 WHERE id = $1 AND state IN ('failed', 'retry') RETURNING id`,
      [id, reason, by, this.now().toISOString()],
    );
    return rows.length > 0;
  }

  /** Closes a waiting event: delivered (a retry got through) or superseded (a newer version was delivered). */
  async resolve(id: string, state: 'delivered' | 'superseded', resolution: string): Promise<void> {
    await this.db.query(`UPDATE fhir.failed_event SET state = $2, resolution = $3, resolved = $4 WHERE id = $1 AND state IN ('failed', 'retry')`, [id, state, resolution, this.now().toISOString()]);
  }

  /** Waiting events of older versions of a resource: closed as superseded once a newer version was delivered. */
  async supersede(reader: string, resource: Resource): Promise<void> {
    await this.db.query(
      `UPDATE fhir.failed_event SET state = 'superseded', resolution = $4, resolved = $5
       WHERE reader = $1 AND resource_type = $2 AND resource_id = $3 AND version_id < $6 AND state IN ('failed', 'retry')`,
      [reader, resource.resourceType, resource.id, `version ${resource.meta?.versionId ?? 1} was delivered`, this.now().toISOString(), Number(resource.meta?.versionId ?? 1)],
    );
  }
}
