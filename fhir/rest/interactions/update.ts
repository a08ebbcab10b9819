/**
 * update (https://hl7.org/fhir/R4/http.html#update): PUT Type/id, creating
 * the resource when it does not exist (updateCreate); and conditional update
 * (#cond-update): PUT Type?criteria, where the criteria select the resource.
 */
import { badRequest, OperationOutcomeError, preconditionFailed } from '../../outcome';
import { conditionalMatches } from '../conditional';
import { bodyResource, checkWrite, currentVisible, refuseHiddenUpdateCreate, written, type Handler } from '../request';

export const update: Handler = async ({ store, req, params }) => {
  const { type, id } = params;
  const body = bodyResource(req, type, id);
  const { stored, visible } = await currentVisible(store, req, type, id);
  refuseHiddenUpdateCreate(stored, visible, type, id);
  await checkWrite(req, visible, body);
  const updated = await store.update(body, { ifMatch: req.headers.ifMatch });
  return written(updated.meta?.versionId === '1' ? 201 : 200, updated, req);
};

export const conditionalUpdate: Handler = async ({ store, req, params }) => {
  const { type } = params;
  if (Object.keys(req.query).length === 0) throw new OperationOutcomeError(badRequest(`PUT /${type} needs search criteria (conditional update) or an id in the URL`), 400);
  const found = await conditionalMatches(store, req, type, req.query);
  if (found.length > 1) throw new OperationOutcomeError(preconditionFailed(`The conditional update criteria match more than one ${type}`), 412);
  const body = bodyResource(req, type);
  if (found.length === 0) {
    // Nothing matched: a new resource, with an id the server assigns (the body's is not kept, so
    // it is not checked either: an id held by a hidden resource must change nothing).
    const { id: _unused, ...created } = body;
    await checkWrite(req, undefined, created as typeof body);
    return written(201, await store.create(created as typeof body), req);
  }
  await checkWrite(req, found[0], body);
  return written(200, await store.update({ ...body, id: found[0].id }, { ifMatch: req.headers.ifMatch }), req);
};
