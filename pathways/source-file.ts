/**
 * Reading a definition file: YAML (JSON is a subset of it) parsed with
 * positions kept, then checked against the JSON Schema. The result keeps the
 * parsed document so later checks can point at lines too.
 */
import { readFileSync } from 'node:fs';
import Ajv, { type ErrorObject } from 'ajv';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import { pathwaySchema, type PathwayDocument } from './schema';
import { closest, DefinitionError, pointer, type DefinitionProblem } from './problems';

export interface SourceFile {
  file: string;
  document: PathwayDocument;
  /** A problem at `path` in this file, with its line and column. */
  problem(path: readonly (string | number)[], message: string, hint?: string): DefinitionProblem;
}

let validator: ReturnType<Ajv['compile']> | undefined;

/** The schema validator, compiled once. */
function validate(value: unknown): ErrorObject[] {
  validator ??= new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false }).compile(pathwaySchema);
  return validator(value) ? [] : [...(validator.errors ?? [])];
}

export function readSourceFile(file: string): SourceFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DefinitionError([{ file, path: '', message: `cannot read the file: ${(error as Error).message}` }]);
  }
  return parseSourceText(text, file);
}

export function parseSourceText(text: string, file: string): SourceFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const at = (offset: number | undefined) => (offset === undefined ? {} : { line: lineCounter.linePos(offset).line, column: lineCounter.linePos(offset).col });
  if (doc.errors.length > 0) {
    // The first syntax error; the ones after it are usually its echoes.
    const [first] = doc.errors;
    throw new DefinitionError([{ file, path: '', ...at(first.pos[0]), message: `not valid YAML or JSON: ${first.message.split('\n')[0]}` }]);
  }
  const problem = (path: readonly (string | number)[], message: string, hint?: string): DefinitionProblem => ({
    file,
    path: pointer(path),
    ...at(locate(doc, path)),
    message,
    ...(hint ? { hint } : {}),
  });
  const value: unknown = doc.toJS();
  const errors = validate(value);
  if (errors.length > 0) throw new DefinitionError(describe(errors).map((e) => problem(e.path, e.message, e.hint)));
  return { file, document: value as PathwayDocument, problem };
}

/**
 * The source offset of what `path` names: the key of a mapping entry (so
 * "unknown property" and "bad value" both point at the line that says it),
 * the item of a list, or the nearest ancestor that exists.
 */
function locate(doc: Document, path: readonly (string | number)[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const parent = doc.getIn(path.slice(0, n - 1), true);
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (p.key as { value?: unknown })?.value === path[n - 1]);
      const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      if (range) return range[0];
    }
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return node.range[0];
  }
  return (doc.contents as { range?: [number, number, number] } | null)?.range?.[0];
}

interface Described {
  path: (string | number)[];
  message: string;
  hint?: string;
}

/** Ajv errors as an author reads them: the place, what is wrong, and how to fix it. */
function describe(errors: ErrorObject[]): Described[] {
  const out: Described[] = [];
  const seen = new Set<string>();
  const pathOf = (e: ErrorObject) => e.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
  // An anyOf failure repeats what its branches said; keep the branches' errors.
  const atPath = new Map<string, ErrorObject[]>();
  for (const e of errors) atPath.set(e.instancePath, [...(atPath.get(e.instancePath) ?? []), e]);
  for (const e of errors) {
    if (e.keyword === 'anyOf' || e.keyword === 'if') continue;
    const path = pathOf(e);
    const schema = e.parentSchema as { description?: string; properties?: Record<string, unknown>; enum?: unknown[] } | undefined;
    let d: Described;
    switch (e.keyword) {
      case 'required':
        d = { path, message: `missing required property '${(e.params as { missingProperty: string }).missingProperty}'` };
        break;
      case 'additionalProperties': {
        const name = (e.params as { additionalProperty: string }).additionalProperty;
        const guess = closest(name, Object.keys(schema?.properties ?? {}));
        d = {
          path: [...path, name],
          message: `unknown property '${name}'`,
          hint: guess ? `did you mean '${guess}'?` : `allowed here: ${Object.keys(schema?.properties ?? {}).join(', ')}`,
        };
        break;
      }
      case 'enum': {
        const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
        const guess = typeof e.data === 'string' ? closest(e.data, allowed.map(String)) : undefined;
        d = { path, message: `'${String(e.data)}' is not one of ${allowed.join(', ')}`, hint: guess ? `did you mean '${guess}'?` : undefined };
        break;
      }
      case 'pattern':
        d = { path, message: `'${String(e.data)}' is not in the expected form`, hint: schema?.description ? `expected ${schema.description}` : `must match ${(e.params as { pattern: string }).pattern}` };
        break;
      case 'type':
        d = { path, message: `must be ${article((e.params as { type: string }).type)}, got ${Array.isArray(e.data) ? 'a list' : typeof e.data}` };
        break;
      case 'maxProperties':
      case 'minProperties':
        d = { path, message: e.message ?? 'wrong number of properties', hint: schema?.description ? `expected ${schema.description}` : undefined };
        break;
      default:
        d = { path, message: e.message ?? e.keyword };
    }
    const key = `${pointer(d.path)} ${d.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(d);
    }
  }
  return out;
}

function article(type: string): string {
  return { object: 'a mapping (object)', array: 'a list', string: 'a string', integer: 'a whole number', number: 'a number', boolean: 'true or false' }[type] ?? type;
}
