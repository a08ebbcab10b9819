/**
 * The load generator of `npm run bench -- auth-audit`, on a thread of its
 * own, so that sending requests and reading answers (fetch: about a tenth of
 * a request's CPU here) is not counted on the server's thread. Each message
 * is a run: the requests, made in full beforehand (a DPoP proof each), and
 * how many to keep in flight; the answer is how long the run took and how
 * many answers had another status than the one expected.
 * Plain JavaScript: a worker does not inherit the tsx loader `forlop`
 * registers on its main thread.
 */
import { parentPort } from 'node:worker_threads';

parentPort.on('message', async ({ requests, concurrency }) => {
  let next = 0;
  let failures = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) {
        const { url, method, body, headers, status } = requests[next++];
        const response = await fetch(url, { method, body, headers });
        await response.arrayBuffer();
        if (response.status !== status) failures++;
      }
    }),
  );
  parentPort.postMessage({ seconds: Number(process.hrtime.bigint() - started) / 1e9, failures });
});
