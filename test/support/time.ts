/** Time in tests on the embedded server's time-skipping clock (shared with forlop demo). */
export { morningOf, sleepUntilDay } from '../../app/in-process-stack';
