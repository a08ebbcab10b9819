/** read (https://hl7.org/fhir/R4/http.html#read): the current version, if the caller may see it. */
import { readable, readResponse, type Handler } from '../request';

export const read: Handler = async ({ store, req, params }) => readResponse(await readable(req, await store.read(params.type, params.id)), req);
