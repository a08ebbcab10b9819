import { buildAuditEvent, type AuditInput } from './audit-event';
import { validationIssues } from '../../fhir/validate';
import { LEGAL_BASIS } from './codes';

const base: AuditInput = {
  interaction: 'read',
  method: 'GET',
  entities: ['Task/1'],
  status: 200,
  source: { site: 'test', observer: 'Forløp' },
  recorded: new Date('2026-01-02T03:04:05.000Z'),
  network: { address: '127.0.0.1' },
  actor: {
    clientId: 'helsestasjon',
    issuer: 'https://helseid-sts.nhn.no',
    organisation: { orgnr: '910000020', reference: 'Organization/sarpsborg-helsestasjon' },
  },
};

describe('buildAuditEvent', () => {
  it('records a read: type rest, subtype read, action R, outcome 0, client and organisation agents, the entity', () => {
    expect(buildAuditEvent(base)).toEqual({
      resourceType: 'AuditEvent',
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }],
      action: 'R',
      recorded: '2026-01-02T03:04:05.000Z',
      outcome: '0',
      agent: [
        {
          type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] },
          who: { identifier: { system: 'https://helseid-sts.nhn.no', value: 'helsestasjon' }, display: 'helsestasjon' },
          requestor: true,
          network: { address: '127.0.0.1', type: '2' },
        },
        {
          type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleClass', code: 'PROV', display: 'healthcare provider' }] },
          who: { identifier: { system: 'urn:oid:2.16.578.1.12.4.1.4.101', value: '910000020' }, reference: 'Organization/sarpsborg-helsestasjon' },
          requestor: false,
          purposeOfUse: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT', display: 'treatment' }] }],
        },
      ],
      source: {
        site: 'test',
        observer: { display: 'Forløp' },
        type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '3', display: 'Web Server' }],
      },
      entity: [
        {
          what: { reference: 'Task/1' },
          type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
          role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
        },
      ],
    });
  });

  it.each([
    ['create', 'C'],
    ['update', 'U'],
    ['patch', 'U'],
    ['delete', 'D'],
    ['search-type', 'E'],
    ['vread', 'R'],
    ['history-instance', 'R'],
    ['transaction', 'E'],
    ['operation', 'E'],
  ] as const)('maps %s to action %s', (interaction, action) => {
    expect(buildAuditEvent({ ...base, interaction }).action).toBe(action);
  });

  it('marks a Patient entity with the no-basis patient slice codes', () => {
    const [entity] = buildAuditEvent({ ...base, entities: ['Patient/p1'] }).entity!;
    expect(entity.type!.code).toBe('1');
    expect(entity.role!.code).toBe('1');
  });

  it('stores search criteria base64 in a query entity', () => {
    const event = buildAuditEvent({ ...base, interaction: 'search-type', entities: [], query: 'status=requested' });
    expect(event.entity).toEqual([expect.objectContaining({ query: Buffer.from('status=requested').toString('base64'), role: expect.objectContaining({ code: '24' }) })]);
  });

  it('records failures with outcome and description', () => {
    expect(buildAuditEvent({ ...base, status: 403, outcomeDescription: 'insufficient scope' })).toMatchObject({ outcome: '4', outcomeDesc: 'insufficient scope' });
    expect(buildAuditEvent({ ...base, status: 500 })).toMatchObject({ outcome: '8', outcomeDesc: 'HTTP 500' });
    expect(buildAuditEvent({ ...base, status: 200, aborted: true })).toMatchObject({ outcome: '8', outcomeDesc: expect.stringContaining('closed the connection') });
  });

  it('records an unauthenticated caller', () => {
    const event = buildAuditEvent({ ...base, actor: undefined, status: 401 });
    expect(event.agent).toEqual([expect.objectContaining({ who: { display: 'unauthenticated client' }, requestor: true })]);
  });

  it('records the user by HPR number, never a national id, and makes the user the requestor', () => {
    const event = buildAuditEvent({ ...base, actor: { ...base.actor!, user: { subject: 'pseudonym-123', hprNumber: '565501872', name: 'Helse Søster' } } });
    expect(event.agent[0].requestor).toBe(false);
    expect(event.agent[2]).toMatchObject({ who: { identifier: { system: 'urn:oid:2.16.578.1.12.4.1.4.4', value: '565501872' }, display: 'Helse Søster' }, requestor: true });
  });

  it('records the legal basis when data crosses organisations', () => {
    const event = buildAuditEvent({ ...base, crossOrganisation: { organisations: ['Organization/ostfold-familieambulatorium'] } });
    expect(event.agent[1]).toMatchObject({ policy: [LEGAL_BASIS.disclosureToHealthPersonnel], purposeOfUse: [{ coding: [expect.objectContaining({ code: 'COC' })] }] });
    expect(event.entity).toContainEqual(expect.objectContaining({ what: { reference: 'Organization/ostfold-familieambulatorium' } }));
  });

  it('builds only valid AuditEvents, StructureDefinitions included, whatever the URL and the token held (the store keeps them as built, unvalidated)', () => {
    const variants: AuditInput[] = [
      base,
      { ...base, entities: ['Patient/p1', 'CarePlan/c1/_history/2'] },
      { ...base, interaction: 'search-type', entities: [], query: 'status=requested&_include=Task:owner' },
      { ...base, interaction: 'create', method: 'POST', status: 201 },
      { ...base, interaction: 'transaction', method: 'POST', entities: [] },
      { ...base, status: 403, outcomeDescription: 'insufficient scope' },
      { ...base, status: 500 },
      { ...base, aborted: true },
      { ...base, actor: undefined, status: 401, network: undefined },
      { ...base, interaction: 'unknown', method: 'DELETE', status: 404, entities: [] },
      { ...base, actor: { ...base.actor!, role: 'coordinator', organisation: { ...base.actor!.organisation!, parent: { orgnr: '910000012', reference: 'Organization/sarpsborg-kommune' } }, user: { subject: 'pseudonym-123', hprNumber: '565501872', name: 'Helse Søster' } } },
      { ...base, crossOrganisation: { organisations: ['Organization/ostfold-familieambulatorium', 'Organization/sykehuset-ostfold'] } },
      // What a client controls: the id in the URL, its client id and claims.
      { ...base, status: 404, entities: ['Task/a b', `Task/${'x'.repeat(300)}`, 'Task/æøå', 'Task/'] },
      { ...base, actor: { ...base.actor!, clientId: ' odd client ', user: { subject: ' ', hprNumber: '', name: '' } } },
      { ...base, actor: { ...base.actor!, organisation: { ...base.actor!.organisation!, parent: { orgnr: '123' } } } },
    ];
    for (const input of variants) {
      const event = { ...buildAuditEvent(input), id: 'a1', meta: { versionId: '1', lastUpdated: '2026-01-02T03:04:05.000Z' } };
      expect(validationIssues(event)).toEqual([]);
    }
  });
});
