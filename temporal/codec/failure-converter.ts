/**
 * Loaded by path (DataConverter.failureConverterPath) in the client, the
 * worker and the workflow bundle. encodeCommonAttributes moves error messages
 * and stack traces into a payload, so the payload codec encrypts them too:
 * a failure message may quote a resource.
 * https://typescript.temporal.io/api/classes/common.DefaultFailureConverter
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
