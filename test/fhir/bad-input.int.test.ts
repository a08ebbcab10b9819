/**
 * Bad input a FHIR client sent (issue #25, "Bad input"): each answered with
 * an OperationOutcome naming the path of the fault, nothing stored, and no
 * input answered with a 5xx. On the bare API over PGlite.
 */
import type { Bundle, Extension, OperationOutcome } from '@medplum/fhirtypes';
import { bareApi } from './bare-api';

const api = bareApi();

const json = 'application/fhir+json';
const post = (path: string, body: unknown) => fetch(`${api.base}/${path}`, { method: 'POST', headers: { 'content-type': json }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const stored = async (type: string) => (await api.store.search(type, { _total: 'accurate', _count: '0' })).total!;

function nested(depth: number): Extension {
  let extension: Extension = { url: 'http://example.org/leaf', valueString: 'x' };
  for (let i = 0; i < depth; i++) extension = { url: `http://example.org/level${i}`, extension: [extension] };
  return extension;
}

it.each([
  ['2023-02-29', 'Patient.birthDate', { resourceType: 'Patient', birthDate: '2023-02-29' }],
  ['2023-04-31', 'Patient.birthDate', { resourceType: 'Patient', birthDate: '2023-04-31' }],
  ['2023-02-29T10:00:00Z in an array', 'Observation.component[0].valueDateTime', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, component: [{ code: { text: 'y' }, valueDateTime: '2023-02-29T10:00:00Z' }] }],
])('refuses the calendar-invalid date %s with 422 at %s and stores nothing', async (_name, path, resource) => {
  const before = await stored(resource.resourceType);
  const response = await post(resource.resourceType, resource);
  expect(response.status).toBe(422);
  const issues = ((await response.json()) as OperationOutcome).issue!;
  expect(issues).toContainEqual(expect.objectContaining({ code: 'value', expression: [path], diagnostics: expect.stringMatching(/^Invalid date: '2023-0[24]-(29|31)[^']*' is not a calendar date: 2023-0[24] has (28|30) days$/) }));
  expect(await stored(resource.resourceType)).toBe(before);
});

it('stores a leap day in a leap year', async () => {
  expect((await post('Patient', { resourceType: 'Patient', birthDate: '2024-02-29' })).status).toBe(201);
});

/** The JSON text of a Patient whose extension nests `depth` deep, built as text (JSON.stringify itself overflows the stack on 20,000). */
function nestedPatientJson(depth: number): string {
  const open = '{"url":"http://example.org/level","extension":['.repeat(depth);
  return `{"resourceType":"Patient","extension":[${open}{"url":"http://example.org/leaf","valueString":"x"}${']}'.repeat(depth)}]}`;
}

it.each([
  ['2,000 deep', 2_000],
  ['20,000 deep', 20_000],
])('refuses an extension nested %s with 400, never a 5xx, and stores nothing', async (_name, depth) => {
  const before = await stored('Patient');
  const response = await post('Patient', nestedPatientJson(depth));
  expect(response.status).toBe(400);
  const [first] = ((await response.json()) as OperationOutcome).issue!;
  expect(first.diagnostics).toMatch(/^The request body nests more than 100 levels deep/);
  expect(first.expression?.[0]).toMatch(/^Patient\.extension\[0\]\.extension\[0\]/);
  expect(await stored('Patient')).toBe(before);
});

it('refuses a deep extension inside a transaction with 400, and stores nothing of it', async () => {
  const before = await stored('Patient');
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: 'urn:uuid:1', resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
      { fullUrl: 'urn:uuid:2', resource: { resourceType: 'Patient', extension: [nested(2_000)] }, request: { method: 'POST', url: 'Patient' } },
    ],
  };
  const response = await post('', bundle);
  expect(response.status).toBe(400);
  expect(((await response.json()) as OperationOutcome).issue![0].expression![0]).toMatch(/^Bundle\.entry\[1\]\.resource\.extension\[0\]/);
  expect(await stored('Patient')).toBe(before);
});

it('refuses a body of 100,000 nested arrays (JSON the parser must survive) with 400', async () => {
  const response = await post('Patient', `${'['.repeat(100_000)}${']'.repeat(100_000)}`);
  expect(response.status).toBeLessThan(500);
  expect(response.status).toBe(400);
});

it('refuses a resource nested too deep with 422 when it reaches validation by another road (the store)', async () => {
  await expect(api.store.create({ resourceType: 'Patient', extension: [nested(200)] })).rejects.toMatchObject({ status: 422 });
});

it.each([
  ['two Observations', 'Observation', 'Observation'],
  ['a Patient and an Observation', 'Patient', 'Observation'],
])('refuses a transaction whose %s share a fullUrl with 400 naming Bundle.entry[1].fullUrl (bdl-7), storing nothing', async (_name, first, second) => {
  const resource = (type: string) => (type === 'Patient' ? { resourceType: 'Patient' } : { resourceType: 'Observation', status: 'final', code: { text: 'x' }, focus: [{ reference: 'urn:uuid:6f1c7c2e-0000-4000-8000-000000000001' }] });
  const before = (await stored('Patient')) + (await stored('Observation'));
  const bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [first, second].map((type) => ({ fullUrl: 'urn:uuid:6f1c7c2e-0000-4000-8000-000000000001', resource: resource(type), request: { method: 'POST', url: type } })),
  };
  const response = await post('', bundle);
  expect(response.status).toBe(400);
  const [issue] = ((await response.json()) as OperationOutcome).issue!;
  expect(issue).toMatchObject({ expression: ['Bundle.entry[1].fullUrl'], diagnostics: expect.stringMatching(/is also Bundle\.entry\[0\]\.fullUrl; a fullUrl must be unique in a Bundle \(bdl-7\)$/) });
  expect((await stored('Patient')) + (await stored('Observation'))).toBe(before);
});
