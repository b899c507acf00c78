// The report JSON, read from the form by the rules of
// core/schema/fields.py (the definition; docs/report-fields.md). The two
// must give the same JSON for the same inputs: tests/browser checks that
// the browser-sealed and the server-sealed report open equal.

export const FORM_VERSION = 2;
export const MAX_NARRATIVE = 100000;
export const MAX_SHORT_TEXT = 200;
// The characters Python's STRIP holds (str.strip() and trim() differ).
const STRIP = " \t\n\r\f\v\u00a0\u3000";
const MULTI = ["tactics", "channel", "targeted", "community", "impact"];
const SINGLE = ["province", "state", "police_told", "contact_method", "contact_language"];
const SHORT_TEXT = ["when", "city", "state_other", "contact_value", "contact_safe_times"];

export class ReportFieldError extends Error {
  constructor(field, code) {
    super(`${field}: ${code}`);
    this.field = field;
    this.code = code;
  }
}

export function strip(text) {
  let start = 0;
  let end = text.length;
  while (start < end && STRIP.includes(text[start])) start++;
  while (end > start && STRIP.includes(text[end - 1])) end--;
  return text.slice(start, end);
}

function codePoints(text) {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

const WHEN = /^([0-9]{4})[^0-9]+([0-9]{1,2})(?:[^0-9]+([0-9]{1,2}))?[^0-9]*$/u;
const WHEN_COMPACT = /^([0-9]{4})-([0-9]{2})(?:-([0-9]{2}))?$/;

/** "2026-07-14", "2026-07" or "" (normalize_when in fields.py). */
export function normalizeWhen(text, today) {
  const value = strip(text.normalize("NFKC"));
  if (!value) return "";
  const match = WHEN_COMPACT.exec(value) || WHEN.exec(value);
  if (!match) throw new ReportFieldError("when", "when");
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = match[3] ? Number(match[3]) : null;
  const date = new Date(Date.UTC(year, month - 1, day || 1));
  if (
    month < 1 || month > 12
    || date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== (day || 1)
  ) {
    throw new ReportFieldError("when", "when");
  }
  const limit = new Date(`${today}T00:00:00Z`);
  limit.setUTCDate(limit.getUTCDate() + 1);
  if (year < 1900 || date > limit) throw new ReportFieldError("when", "when");
  const iso = date.toISOString().slice(0, 10);
  return day ? iso : iso.slice(0, 7);
}

function inputs(form, name) {
  return Array.from(form.querySelectorAll(`[name="${name}"]`));
}

function text(form, name) {
  const input = inputs(form, name)[0];
  return input && typeof input.value === "string" ? strip(input.value) : "";
}

function multi(form, name) {
  // DOM order is the order of the choices in fields.py.
  return inputs(form, name).filter((i) => i.checked).map((i) => i.value);
}

function single(form, name) {
  for (const input of inputs(form, name)) {
    if (input.type === "radio") {
      if (input.checked) return input.value || null;
    } else if (input.tagName === "SELECT") {
      return input.value || null;
    }
  }
  return null;
}

/** The report JSON of a form (report_from_form in fields.py). */
export function reportFromForm(form, { language, today, wellFormed }) {
  const narrative = wellFormed(form.elements.namedItem("narrative").value.replace(/\r\n?/g, "\n"));
  if (codePoints(narrative) > MAX_NARRATIVE) throw new ReportFieldError("narrative", "too_long");
  const texts = {};
  for (const name of SHORT_TEXT) {
    texts[name] = wellFormed(text(form, name));
    if (codePoints(texts[name]) > MAX_SHORT_TEXT) throw new ReportFieldError(name, "too_long");
  }
  const lists = {};
  for (const name of MULTI) lists[name] = multi(form, name);
  if (!narrative.trim() && lists.tactics.length === 0) {
    throw new ReportFieldError("narrative", "narrative_or_tactic");
  }
  const when = normalizeWhen(texts.when, today);
  const one = {};
  for (const name of SINGLE) one[name] = single(form, name);
  const method = one.contact_method;
  // Text typed for a choice that was not made is refused, never dropped
  // (report_from_form in fields.py, same order of checks).
  if (texts.state_other && one.state !== "other") {
    throw new ReportFieldError("state_other", "other_state_not_chosen");
  }
  if (method === null || method === "none") {
    for (const name of ["contact_value", "contact_safe_times"]) {
      if (texts[name]) throw new ReportFieldError(name, "contact_method_not_chosen");
    }
  }
  const consents = new Set(multi(form, "consent"));
  const consent = {};
  for (const input of inputs(form, "consent")) consent[input.value] = consents.has(input.value);
  const ongoing = inputs(form, "ongoing").some((i) => i.checked && i.value === "yes");
  return {
    form_version: FORM_VERSION,
    kind: "report",
    language,
    narrative,
    when,
    ongoing,
    province: one.province,
    city: texts.city,
    tactics: lists.tactics,
    channel: lists.channel,
    targeted: lists.targeted,
    community: lists.community,
    state: one.state,
    state_other: texts.state_other, // "" unless state is "other" (checked above)
    police_told: one.police_told,
    impact: lists.impact,
    contact: {
      method,
      // Both "" unless method is signal, email or phone (checked above).
      value: texts.contact_value,
      safe_times: texts.contact_safe_times,
      language: one.contact_language,
    },
    consent,
  };
}

/** A follow-up's JSON (followup_from_form in fields.py). */
export function followupFromForm(form, { language, follows, wellFormed }) {
  const narrative = wellFormed(form.elements.namedItem("narrative").value.replace(/\r\n?/g, "\n"));
  if (codePoints(narrative) > MAX_NARRATIVE) throw new ReportFieldError("narrative", "too_long");
  return { form_version: FORM_VERSION, kind: "followup", language, follows, narrative };
}
