/** $validate (https://hl7.org/fhir/R4/resource-operation-validate.html): the issues of the body, nothing stored. */
import { allOk } from '../../outcome';
import { validationIssues } from '../../validate';
import { bodyResource, type Handler } from '../request';

export const validate: Handler = async ({ req, params }) => {
  const issues = validationIssues(bodyResource(req, params.type));
  return { status: 200, body: issues.length > 0 ? { resourceType: 'OperationOutcome', issue: issues } : allOk('Valid') };
};
