import { Writable } from 'node:stream';
import { createLogger, scrub } from './logging';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { lines, destination };
}

const fnr = '01010112345';
const dnr = '41010112345';
const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJoZWxzZXN0YXNqb24ifQ.c2lnbmF0dXJlc2lnbmF0dXJl';
const sensitive = [fnr, dnr, jwt, 'Nordmann', 'Kari', 'Storgata', 'dev-secret-helsestasjon', 'private-key-material', 'bekymret for mor'];

describe('createLogger', () => {
  it('writes JSON lines with none of the sensitive values, whatever shape they arrive in', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ destination, base: { service: 'test' } });
    logger.info(
      {
        req: { method: 'GET', headers: { authorization: `DPoP ${jwt}`, dpop: jwt, 'content-type': 'application/fhir+json' } },
        patient: {
          resourceType: 'Patient',
          identifier: [{ system: 'urn:oid:2.16.578.1.12.4.1.4.1', value: fnr }],
          name: [{ family: 'Nordmann', given: ['Kari'] }],
          address: [{ line: ['Storgata 1'] }],
        },
        body: { resourceType: 'Observation', note: [{ text: 'bekymret for mor' }] },
        client: { client_secret: 'dev-secret-helsestasjon', privateJwk: { d: 'private-key-material' } },
        nested: { deeper: { deepest: { fodselsnummer: fnr, free: `patient ${dnr} arrived` } } },
        familyId: 'family-7f3a',
      },
      `lookup for ${fnr} with token ${jwt}`,
    );
    logger.error(new Error(`Patient ${fnr} not found`), 'failed for %s', fnr);
    logger.warn({ err: new Error(`token ${jwt} rejected`) }, 'auth');

    expect(lines).toHaveLength(3);
    for (const line of lines) for (const value of sensitive) expect(line).not.toContain(value);

    const first = JSON.parse(lines[0]);
    expect(first).toMatchObject({
      level: 'info',
      service: 'test',
      msg: 'lookup for [national-id] with token [jwt]',
      req: { method: 'GET', headers: { authorization: '[redacted]', dpop: '[redacted]', 'content-type': 'application/fhir+json' } },
      patient: { resourceType: 'Patient', identifier: '[redacted]', name: '[redacted]', address: '[redacted]' },
      body: '[redacted]',
      familyId: 'family-7f3a',
    });
    expect(JSON.parse(lines[1])).toMatchObject({ level: 'error', msg: 'failed for [national-id]' });
  });

  it('keeps pseudonymous ids and ordinary numbers', () => {
    expect(scrub({ familyId: 'family-1', count: 12345678901234, orgnr: '910000020', at: '2026-01-01' })).toEqual({
      familyId: 'family-1',
      count: 12345678901234,
      orgnr: '910000020',
      at: '2026-01-01',
    });
  });
});
