/** delete (https://hl7.org/fhir/R4/http.html#delete): a tombstone version; deleting what is already gone succeeds. */
import { checkWrite, current, type Handler } from '../request';

export const remove: Handler = async ({ store, req, params }) => {
  const { type, id } = params;
  const before = await current(store, type, id);
  if (before) await checkWrite(req, before, undefined);
  await store.delete(type, id, { ifMatch: req.headers.ifMatch });
  return { status: 204 };
};
