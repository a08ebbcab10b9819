/** create (https://hl7.org/fhir/R4/http.html#create), conditional with If-None-Exist (#ccreate): one match -> 200 with it, several -> 412. */
import { OperationOutcomeError, preconditionFailed } from '../../outcome';
import { conditionalMatches, ifNoneExistCriteria } from '../conditional';
import { bodyResource, checkWrite, written, type Handler } from '../request';

export const create: Handler = async ({ store, req, params }) => {
  const { type } = params;
  const criteria = ifNoneExistCriteria(req);
  if (criteria) {
    const found = await conditionalMatches(store, req, type, criteria);
    if (found.length > 1) throw new OperationOutcomeError(preconditionFailed(`If-None-Exist '${req.headers.ifNoneExist}' matches more than one ${type}`), 412);
    if (found.length === 1) return written(200, found[0], req);
  }
  const resource = bodyResource(req, type);
  await checkWrite(req, undefined, resource);
  return written(201, await store.create(resource), req);
};
