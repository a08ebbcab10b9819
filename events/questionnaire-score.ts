/**
 * Scoring a completed QuestionnaireResponse of a screening instrument (EPDS,
 * TWEAK, AUDIT-C...): the sum of its item answers, each a valueInteger or a
 * valueCoding whose score is its ordinal value (the R4 extension
 * http://hl7.org/fhir/StructureDefinition/ordinalValue, or R5's itemWeight)
 * or, failing that, a numeric code. Answers of other types (a date, free
 * text) are not part of the scale and are passed over. Each scored item's
 * answer is kept by its linkId, so a rule can look at one item (EPDS item 10,
 * thoughts of self-harm) as it does with Observation components.
 * (https://hl7.org/fhir/R4/questionnaireresponse.html)
 */
import type { Coding, QuestionnaireResponse, QuestionnaireResponseItem } from '@medplum/fhirtypes';

const ORDINAL_EXTENSIONS = ['http://hl7.org/fhir/StructureDefinition/ordinalValue', 'http://hl7.org/fhir/StructureDefinition/itemWeight', 'http://hl7.org/fhir/StructureDefinition/iso21090-CO-value'];

export type QuestionnaireScore = { score: number; items: Record<string, number> } | { problem: string };

function codingScore(coding: Coding): number | undefined {
  const ordinal = coding.extension?.find((e) => ORDINAL_EXTENSIONS.includes(e.url))?.valueDecimal;
  if (typeof ordinal === 'number') return ordinal;
  return coding.code !== undefined && /^-?\d+$/.test(coding.code) ? Number(coding.code) : undefined;
}

/** The canonical url of the Questionnaire a response answers, without its |version. */
export function questionnaireUrl(response: QuestionnaireResponse): string | undefined {
  return response.questionnaire?.split('|')[0];
}

/** The score and item answers; `problem` when an answer that belongs to the scale cannot be scored, or fewer items than the instrument has were answered. */
export function scoreQuestionnaire(response: QuestionnaireResponse, expectedItems?: number): QuestionnaireScore {
  const items: Record<string, number> = {};
  let score = 0;
  const problems: string[] = [];
  const walk = (list: QuestionnaireResponseItem[] | undefined) => {
    for (const item of list ?? []) {
      for (const answer of item.answer ?? []) {
        let value: number | undefined;
        if (answer.valueInteger !== undefined) value = answer.valueInteger;
        else if (answer.valueCoding) {
          value = codingScore(answer.valueCoding);
          if (value === undefined) problems.push(`item ${item.linkId}: the answer ${answer.valueCoding.code ?? '(no code)'} has no score (give an ordinalValue extension or a numeric code)`);
        }
        if (value !== undefined) {
          score += value;
          items[item.linkId] = (items[item.linkId] ?? 0) + value;
        }
        walk(answer.item);
      }
      walk(item.item);
    }
  };
  walk(response.item);
  if (problems.length > 0) return { problem: problems.join('; ') };
  const answered = Object.keys(items).length;
  if (expectedItems !== undefined && answered < expectedItems) return { problem: `${answered} of ${expectedItems} items answered; a partial screening is not scored` };
  return { score, items };
}
