/** The absolute path of a fresh dist/ output (see prebuilt.js), or undefined when it is missing or older than a source. */
export function freshOutput(relative: string): string | undefined;
