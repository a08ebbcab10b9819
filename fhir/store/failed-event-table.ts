/**
 * The table of changes the event router could not deliver (events/failed-events.ts reads and
 * writes it). Kept apart from migrations.ts's other entries so that the store's own tables and
 * this one, which belongs to the router, are easy to tell apart.
 */
export const FAILED_EVENT_MIGRATION = `CREATE TABLE fhir.failed_event (
     id bigserial PRIMARY KEY, reader text NOT NULL, seq bigint NOT NULL,
     resource_type text NOT NULL, resource_id text NOT NULL, version_id integer NOT NULL,
     patient text NOT NULL, family_id text, cause text NOT NULL, error text NOT NULL,
     state text NOT NULL, attempts integer NOT NULL DEFAULT 1,
     first_failed timestamptz NOT NULL, last_failed timestamptz NOT NULL,
     resolved timestamptz, resolution text, resolved_by text, notice text,
     content json NOT NULL,
     UNIQUE (reader, seq));
   CREATE INDEX failed_event_state ON fhir.failed_event (state, patient)`;
