/**
 * Which organisations take part in a resource, per resource type: the table
 * that organisation-level access (organisation-access.ts) and, later, search
 * filtering in the FHIR store are built on.
 *
 * Object-level authorisation is the most common hole in FHIR APIs (OWASP API
 * Security Top 10, API1:2023 "Broken Object Level Authorization"); one table
 * for every check keeps reads, searches, includes and writes consistent.
 *
 * - `organisations`: element paths whose References name a participating
 *   Organization (a "Organization/<id>" reference, or an identifier with an
 *   organisation number).
 * - `family`: the element path of the family member (Patient) the resource is
 *   about; an organisation taking part in that family takes part in it too.
 * - `shared`: directory and definition resources every authenticated client
 *   may read (writes still need scopes and are for administrators).
 * - `readOnly`: written only by the server itself (AuditEvent: an audit trail
 *   a client could change or delete would prove nothing).
 * Resource types not listed are refused: access is opt-in per type.
 */

export interface ParticipationRule {
  organisations?: readonly string[];
  family?: string;
  shared?: true;
  /** Never written through the API (the server writes them itself). */
  readOnly?: true;
  /** Organisations are the Organization references in `criteria` (a search URL). */
  criteria?: true;
}

export const PARTICIPATION_RULES: Readonly<Record<string, ParticipationRule>> = {
  // The family: a Patient's managingOrganization is the family's municipality (its helsestasjon).
  Patient: { organisations: ['managingOrganization', 'generalPractitioner'], family: '' },
  RelatedPerson: { family: 'patient' },
  // Pathway plan and the people who carry it out.
  CarePlan: { organisations: ['author', 'contributor', 'careTeam'], family: 'subject' },
  CareTeam: { organisations: ['managingOrganization', 'participant.member', 'participant.onBehalfOf'], family: 'subject' },
  EpisodeOfCare: { organisations: ['managingOrganization', 'team'], family: 'patient' },
  // Handoffs between organisations (FHIR workflow: ServiceRequest + Task).
  ServiceRequest: { organisations: ['requester', 'performer'], family: 'subject' },
  Task: { organisations: ['requester', 'owner', 'restriction.recipient'], family: 'for' },
  Communication: { organisations: ['sender', 'recipient'], family: 'subject' },
  // The legal basis of a release (a handoff's) or the family's consent to sharing: the releasing
  // organisation and the recipients it permits, and the family's organisations.
  Consent: { organisations: ['organization', 'provision.actor.reference'], family: 'patient' },
  // Clinical records belong to the family and to the organisation that made them.
  Encounter: { organisations: ['serviceProvider'], family: 'subject' },
  Observation: { organisations: ['performer'], family: 'subject' },
  QuestionnaireResponse: { organisations: ['author'], family: 'subject' },
  Condition: { organisations: ['recorder', 'asserter'], family: 'subject' },
  Procedure: { organisations: ['performer.actor', 'performer.onBehalfOf'], family: 'subject' },
  Appointment: { organisations: ['participant.actor'] },
  // Notifications a receiving system asked for (subscriptions/).
  Subscription: { criteria: true },
  // Audit trail: an organisation sees the events where it acted or whose data was disclosed.
  // And the organisations of the family whose records it names (pasientjournalloven § 18: the right to
  // know who accessed the records, refused attempts included).
  AuditEvent: { organisations: ['agent.who', 'entity.what'], family: 'entity.what', readOnly: true },
  // Shared directory and definitions.
  Organization: { shared: true },
  Practitioner: { shared: true },
  PractitionerRole: { shared: true },
  Location: { shared: true },
  HealthcareService: { shared: true },
  PlanDefinition: { shared: true },
  ActivityDefinition: { shared: true },
  Questionnaire: { shared: true },
  CapabilityStatement: { shared: true },
};

/** The rule for a resource type, or undefined when the type is not accessible at all. */
export function participationRule(resourceType: string): ParticipationRule | undefined {
  return Object.prototype.hasOwnProperty.call(PARTICIPATION_RULES, resourceType) ? PARTICIPATION_RULES[resourceType] : undefined;
}

/**
 * Whether any client can be allowed to write (create, update, patch, delete)
 * resources of this type through the API: not shared directory data (the
 * operator's), not server-written (AuditEvent), not an unlisted type. The
 * organisation write check (organisation-access.ts) refuses the same types
 * from the same rules, and the CapabilityStatement declares writes only for
 * the types this allows, so the two follow one table.
 */
export function writableThroughApi(resourceType: string): boolean {
  const rule = participationRule(resourceType);
  return rule !== undefined && !rule.shared && !rule.readOnly;
}
