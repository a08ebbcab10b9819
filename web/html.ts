/**
 * Typed HTML templates: a tagged template literal that escapes every
 * interpolated value unless it is already Html (made by this tag or by
 * `raw`). Pages are plain functions from data to Html, so the compiler
 * checks what each page needs and nothing reaches the page unescaped.
 * https://html.spec.whatwg.org/multipage/syntax.html#escapingString
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Part = Html | string | number | boolean | null | undefined | readonly Part[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escape(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function render(part: Part): string {
  if (part === null || part === undefined || part === false || part === true) return '';
  if (part instanceof Html) return part.text;
  if (Array.isArray(part)) return (part as readonly Part[]).map(render).join('');
  return escape(String(part));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Text known to be safe markup (constant strings of our own; never user or FHIR data). */
export const raw = (text: string) => new Html(text);

/** JSON for a <script type="application/json"> block: `<` escaped so the data cannot close the element. */
export const jsonScript = (value: unknown) => new Html(JSON.stringify(value).replace(/</g, '\\u003c'));
