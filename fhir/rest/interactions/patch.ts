/** patch (https://hl7.org/fhir/R4/http.html#patch) with JSON Patch (RFC 6902); the result is validated like any write. */
import type { Resource } from '@medplum/fhirtypes';
import { applyPatch } from 'rfc6902';
import { badRequest, OperationOutcomeError } from '../../outcome';
import { checkWrite, readable, written, type Handler } from '../request';

export const patch: Handler = async ({ store, req, params }) => {
  const { type, id } = params;
  const operations = req.body;
  if (!Array.isArray(operations)) throw new OperationOutcomeError(badRequest('A PATCH body must be a JSON Patch array (application/json-patch+json)'), 400);
  const stored = await readable(req, await store.read(type, id));
  const patched = structuredClone(stored) as Resource;
  const results = applyPatch(patched, operations);
  const failed = results.findIndex((r) => r !== null);
  if (failed >= 0) throw new OperationOutcomeError(badRequest(`JSON Patch operation ${failed} failed: ${results[failed]!.message}`), 422);
  if (patched.resourceType !== type || patched.id !== id) throw new OperationOutcomeError(badRequest('A PATCH may not change resourceType or id'), 400);
  await checkWrite(req, stored, patched);
  return written(200, await store.update(patched, { ifMatch: req.headers.ifMatch ?? `W/"${stored.meta?.versionId}"` }), req);
};
