/**
 * The JSON Schema of a care-pathway definition: the source of truth for the
 * format. The TypeScript type `PathwayDocument` is derived from it (so a
 * field added here is typed everywhere), ajv compiles it once, and
 * `forlop pathway schema` prints it for editors.
 *
 * What a schema cannot say (ids unique, references resolve, windows around
 * their target, no cycles, bands that cover the scale) is checked by
 * ./semantic-checks.ts after it. docs/pathway-authoring.md explains each part.
 */
import type { FromSchema } from 'json-schema-to-ts';

const id = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,47}$', description: 'lower-case letters, digits and hyphens, at most 48 characters' } as const;

/** A calendar offset from an anchor: days, weeks, months or years, e.g. `6w`, `-2d`, `3mo`, `1y`. */
const offset = { type: 'string', pattern: '^-?\\d{1,4}(d|w|mo|y)$', description: 'a signed whole number with unit d, w, mo or y, e.g. 6w, -2d, 3mo' } as const;

const anchor = {
  type: 'string',
  enum: ['enrolment', 'dueDate', 'gestation', 'birth', 'event'],
  description:
    'enrolment: the day the family joined; dueDate: the estimated due date (termin); gestation: the start of gestational week 0 (due date minus 280 days), so week 24 is gestation+24w; birth: the birth date; event: the day the rule that scheduled this step fired',
} as const;

const timePoint = {
  type: 'object',
  additionalProperties: false,
  required: ['anchor'],
  properties: { anchor, offset },
} as const;

/**
 * How far outside its window a result or contact still fulfils the step
 * (before `earliest` and after `latest`); outside that it is recorded as
 * unplanned and the step stays open. 0d (the default) means the window only.
 */
const matchWithin = { ...offset, pattern: '^\\d{1,4}(d|w|mo|y)$', description: 'a tolerance around the window (not negative), e.g. 2w: a result up to two weeks before or after the window still fulfils the step' } as const;

/** The days around a step's target in which it counts as on time, as offsets from the same anchor. */
const window = {
  type: 'object',
  additionalProperties: false,
  required: ['earliest', 'latest'],
  properties: { earliest: offset, latest: offset },
} as const;

const coding = {
  type: 'object',
  additionalProperties: false,
  required: ['system', 'code'],
  properties: {
    system: { type: 'string', minLength: 1 },
    code: { type: 'string', minLength: 1 },
    display: { type: 'string' },
  },
} as const;

const source = { ...id, description: 'the id of an entry in `sources` that this number or step comes from' } as const;

const stepTrigger = {
  type: 'string',
  enum: ['plan', 'rule'],
  description: 'plan (default): planned for every family from its anchor; rule: planned only when a rule schedules it, anchored at that event',
} as const;

const contact = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'title', 'deliveredBy', 'code', 'at', 'window', 'source'],
  properties: {
    id,
    title: { type: 'string', minLength: 1 },
    phase: id,
    kind: { type: 'string', enum: ['consultation', 'home-visit', 'group', 'check', 'ultrasound', 'vaccination'] },
    deliveredBy: { ...id, description: 'the id of an entry in `services`' },
    code: coding,
    encounterClass: { type: 'string', enum: ['AMB', 'HH', 'VR', 'IMP'], description: 'v3 ActCode: AMB ambulatory, HH home health, VR virtual, IMP inpatient' },
    at: timePoint,
    window,
    plannedEncounter: { type: 'boolean', description: 'create a planned FHIR Encounter when the step is planned' },
    matchWithin,
    trigger: stepTrigger,
    source,
    note: { type: 'string' },
  },
} as const;

const screening = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'title', 'instrument', 'deliveredBy', 'at', 'window', 'source'],
  properties: {
    id,
    title: { type: 'string', minLength: 1 },
    phase: id,
    instrument: { ...id, description: 'the id of an entry in `instruments`' },
    deliveredBy: id,
    at: timePoint,
    window,
    matchWithin,
    trigger: stepTrigger,
    source,
    note: { type: 'string' },
  },
} as const;

const intervention = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'title', 'deliveredBy', 'code', 'start', 'repeat', 'source'],
  properties: {
    id,
    title: { type: 'string', minLength: 1 },
    phase: id,
    deliveredBy: id,
    code: coding,
    start: timePoint,
    repeat: {
      type: 'object',
      additionalProperties: false,
      required: ['every'],
      properties: {
        every: { ...offset, description: 'the time between sessions, e.g. 1w' },
        count: { type: 'integer', minimum: 1, maximum: 500, description: 'a course of this many sessions' },
        until: timePoint,
      },
    },
    matchWithin,
    trigger: stepTrigger,
    source,
    note: { type: 'string' },
  },
} as const;

const instrument = {
  type: 'object',
  additionalProperties: false,
  required: ['title', 'code', 'min', 'max', 'bands', 'source'],
  properties: {
    title: { type: 'string', minLength: 1 },
    code: coding,
    min: { type: 'integer' },
    max: { type: 'integer' },
    items: { type: 'integer', minimum: 1 },
    questionnaire: {
      type: 'string',
      pattern: '^https?://[^\\s|]+$',
      description: 'the canonical url of the instrument\'s FHIR Questionnaire (no version): a completed QuestionnaireResponse for it is scored as this instrument, the sum of its item answers',
    },
    bands: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'min', 'max', 'title'],
        properties: { id, title: { type: 'string' }, min: { type: 'integer' }, max: { type: 'integer' } },
      },
    },
    source,
  },
} as const;

const eventName = {
  type: 'string',
  enum: [
    'enrolled',
    'due-date-changed',
    'birth-registered',
    'pregnancy-ended',
    'encounter-recorded',
    'screening-recorded',
    'contact-overdue',
    'consent-changed',
    'moved',
    'phase-entered',
  ],
} as const;

const oneOrMany = (schema: typeof id) => ({ anyOf: [schema, { type: 'array', minItems: 1, items: schema }] }) as const;

const condition = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    instrument: id,
    band: oneOrMany(id),
    item: {
      type: 'object',
      additionalProperties: false,
      required: ['linkId', 'min'],
      properties: { linkId: { type: 'string', minLength: 1 }, min: { type: 'integer' } },
    },
    step: oneOrMany(id),
    status: { type: 'string', enum: ['finished', 'cancelled', 'no-show'] },
    phase: oneOrMany(id),
    basis: { type: 'string', enum: ['consent', 'health-personnel-cooperation', 'section-33'] },
    consent: { type: 'string', enum: ['active', 'rejected', 'withdrawn'] },
  },
} as const;

const action = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  description: 'exactly one of: schedule, cancel, handoff, notifyCoordinator, openCheck, exit',
  properties: {
    schedule: { ...id, description: 'a step with trigger: rule, planned from this event' },
    cancel: { ...id, description: 'a step that no longer applies' },
    handoff: { ...id, description: 'the id of an entry in `handoffs` to start' },
    notifyCoordinator: { type: 'string', minLength: 1, description: 'what the family coordinator is told' },
    openCheck: { ...id, description: 'the id of an entry in `checks` to open' },
    exit: { ...id, description: 'the id of an entry in `exits`' },
  },
} as const;

const rule = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'on', 'do', 'source'],
  properties: {
    id,
    title: { type: 'string' },
    on: eventName,
    when: condition,
    do: { type: 'array', minItems: 1, items: action },
    source,
  },
} as const;

const deadline = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  description: 'exactly one of workingDays (weekends and Norwegian public holidays skipped), days or months (calendar months)',
  properties: {
    workingDays: { type: 'integer', minimum: 1, maximum: 365 },
    days: { type: 'integer', minimum: 1, maximum: 365 },
    months: { type: 'integer', minimum: 1, maximum: 24 },
  },
} as const;

/** Hours, for urgent handoffs' reminders and escalations, e.g. 2h. */
const hours = { type: 'string', pattern: '^\\d{1,2}h$', description: 'whole hours, e.g. 2h (urgent handoffs only)' } as const;

const handoff = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'title', 'from', 'to', 'legalBasis', 'deadline', 'escalation', 'source'],
  properties: {
    id,
    title: { type: 'string', minLength: 1 },
    priority: {
      type: 'string',
      enum: ['routine', 'urgent'],
      description: 'urgent: a deadline in hours from the moment it is sent (e.g. same-day assessment of thoughts of self-harm), with reminders and escalation in hours; routine (default): in days',
    },
    from: { ...id, description: 'the sending service (an entry in `services`)' },
    to: { ...id, description: 'the receiving service' },
    reason: coding,
    legalBasis: { type: 'string', enum: ['consent', 'health-personnel-cooperation', 'section-33'] },
    startedBy: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', enum: ['rule', 'referral'] },
      description:
        "what starts it: rule (the default: a rule's handoff action, or a returnHandoff); referral: a ServiceRequest another system writes for an enrolled family, addressed to the `to` service's organisation",
    },
    deadline: {
      ...deadline,
      description: 'exactly one of workingDays, days, months or hours (urgent handoffs), and from which day it counts',
      properties: { ...deadline.properties, hours: { type: 'integer', minimum: 1, maximum: 72 }, from: { type: 'string', enum: ['sent', 'received'] } },
      minProperties: 1,
      maxProperties: 2,
    },
    reminders: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['before'], properties: { before: { anyOf: [offset, hours] } } } },
    unopened: {
      type: 'object',
      additionalProperties: false,
      required: ['to'],
      minProperties: 2,
      maxProperties: 2,
      description: 'escalate when the receiver has not opened the request (its Task still requested) this long after it was sent: exactly one of workingDays or days, and to whom',
      properties: { ...deadline.properties, to: { type: 'string', enum: ['coordinator', 'service-leader'] } },
    },
    escalation: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['after', 'to'],
        properties: { after: { anyOf: [offset, hours] }, to: { type: 'string', enum: ['coordinator', 'service-leader'] } },
      },
    },
    milestones: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'title', 'within', 'after'],
        properties: {
          id,
          title: { type: 'string' },
          within: deadline,
          after: { type: 'string', description: "'sent' (the day the request was sent), 'accepted', 'first-attendance' or the id of an earlier milestone" },
          repeat: { type: 'boolean', description: 'recurs every `within` after the previous one (e.g. evaluations every 42 days)' },
        },
      },
    },
    returnHandoff: { ...id, description: 'the handoff started back when this one completes (discharge to the municipality)' },
    checkOnAccept: { ...id, description: 'a check (an entry in `checks`) the receiver must do once it accepts, e.g. the helsepersonelloven §10a check when a parent enters specialist care' },
    source,
  },
} as const;

const check = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'title', 'owner', 'deadline', 'source'],
  properties: { id, title: { type: 'string', minLength: 1 }, code: coding, owner: id, deadline, source },
} as const;

const exit = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'title', 'carePlanStatus', 'source'],
  properties: {
    id,
    title: { type: 'string', minLength: 1 },
    on: { type: 'string', enum: ['pregnancy-ended', 'moved', 'consent-withdrawn', 'ended'] },
    at: timePoint,
    carePlanStatus: { type: 'string', enum: ['completed', 'revoked'] },
    source,
  },
} as const;

const phase = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'title', 'start'],
  properties: { id, title: { type: 'string', minLength: 1 }, start: timePoint, source },
} as const;

const service = {
  type: 'object',
  additionalProperties: false,
  required: ['title', 'kind'],
  properties: {
    title: { type: 'string', minLength: 1 },
    kind: { type: 'string', enum: ['municipal', 'specialist'] },
    code: coding,
  },
} as const;

export const pathwaySchema = {
  $id: 'https://forlop.no/schema/pathway-definition.json',
  title: 'Forløp care-pathway definition',
  type: 'object',
  additionalProperties: false,
  required: ['url', 'version', 'name', 'title', 'status'],
  properties: {
    $schema: { type: 'string' },
    url: { type: 'string', pattern: '^https?://[^\\s|]+$', description: 'the canonical url; with the version it names this definition (url|version)' },
    version: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+(-[0-9A-Za-z.-]+)?$', description: 'a semantic version, e.g. 1.2.0' },
    name: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_]{0,254}$', description: 'a computer-friendly name (FHIR name rules)' },
    title: { type: 'string', minLength: 1 },
    status: { type: 'string', enum: ['draft', 'active', 'retired'] },
    publisher: { type: 'string' },
    description: { type: 'string' },
    matchWithin: {
      type: 'object',
      additionalProperties: false,
      description: "the tolerance around a step's window per kind of step (a step's own matchWithin wins); kinds without one match inside the window only",
      properties: { consultation: matchWithin, 'home-visit': matchWithin, group: matchWithin, check: matchWithin, ultrasound: matchWithin, vaccination: matchWithin, screening: matchWithin, intervention: matchWithin },
    },
    extends: { type: 'string', pattern: '^https?://[^\\s|]+\\|\\d+\\.\\d+\\.\\d+(-[0-9A-Za-z.-]+)?$', description: 'url|version of the definition this one adapts' },
    remove: { type: 'array', items: id, description: 'ids of the base definition entries this variant leaves out' },
    sources: {
      type: 'object',
      propertyNames: id,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['title'],
        properties: { title: { type: 'string', minLength: 1 }, url: { type: 'string', pattern: '^https?://' }, note: { type: 'string' } },
      },
    },
    services: { type: 'object', propertyNames: id, additionalProperties: service },
    instruments: { type: 'object', propertyNames: id, additionalProperties: instrument },
    phases: { type: 'array', items: phase },
    contacts: { type: 'array', items: contact },
    screenings: { type: 'array', items: screening },
    interventions: { type: 'array', items: intervention },
    rules: { type: 'array', items: rule },
    handoffs: { type: 'array', items: handoff },
    checks: { type: 'array', items: check },
    exits: { type: 'array', items: exit },
  },
} as const;

export type PathwayDocument = FromSchema<typeof pathwaySchema>;
export type ContactDocument = FromSchema<typeof contact>;
export type ScreeningDocument = FromSchema<typeof screening>;
export type InterventionDocument = FromSchema<typeof intervention>;
export type InstrumentDocument = FromSchema<typeof instrument>;
export type RuleDocument = FromSchema<typeof rule>;
export type ActionDocument = FromSchema<typeof action>;
export type ConditionDocument = FromSchema<typeof condition>;
export type HandoffDocument = FromSchema<typeof handoff>;
export type CheckDocument = FromSchema<typeof check>;
export type ExitDocument = FromSchema<typeof exit>;
export type PhaseDocument = FromSchema<typeof phase>;
export type ServiceDocument = FromSchema<typeof service>;
export type TimePointDocument = FromSchema<typeof timePoint>;
export type EventName = FromSchema<typeof eventName>;
