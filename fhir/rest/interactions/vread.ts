/** vread (https://hl7.org/fhir/R4/http.html#vread): one version, if the caller may see the resource's newest. */
import { readable, readResponse, type Handler } from '../request';

export const vread: Handler = async ({ store, req, params }) => {
  await readable(req, (await store.history(params.type, params.id))[0].resource);
  return readResponse(await store.vread(params.type, params.id, params.vid), req);
};
