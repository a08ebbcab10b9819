/** delete (https://hl7.org/fhir/R4/http.html#delete): a tombstone version; deleting what is already gone succeeds. */
import { notFound, OperationOutcomeError } from '../../outcome';
import { checkWrite, current, visibleOnly, type Handler } from '../request';

export const remove: Handler = async ({ store, req, params }) => {
  const { type, id } = params;
  const before = await current(store, type, id);
  // A resource hidden from the caller answers as one that never existed (issue #20).
  if (before && (await visibleOnly(req, [before])).length === 0) throw new OperationOutcomeError(notFound(`${type}/${id} not found`));
  if (before) await checkWrite(req, before, undefined);
  await store.delete(type, id, { ifMatch: req.headers.ifMatch });
  return { status: 204 };
};
