// The language chooser of the report form, with JavaScript on.
//
// Without JavaScript the language buttons post the typed fields to the form
// of the other language, which shows them again (intake/report/views.py).
// With JavaScript the report must never leave the page unsealed, so the page
// switches itself: it fetches the other language's empty form (a GET that
// carries nothing typed), moves every value into it, keeps the very file
// input (so the chosen files stay chosen), and swaps header, main and footer.
// The address becomes the new language's form (history.replaceState), so a
// reload or a bookmark shows that language.

/** Fields whose values come from the fresh page, not the old one. */
const FRESH = new Set(["csrf_token", "recipients_shown"]);

function carryValues(from, to) {
  for (const old of Array.from(from.elements)) {
    if (!old.id || old.type === "file" || old.type === "submit" || old.type === "button") continue;
    if (FRESH.has(old.name)) continue;
    const fresh = to.querySelector(`#${CSS.escape(old.id)}`);
    if (!fresh || fresh.name !== old.name) continue;
    if (old.type === "checkbox" || old.type === "radio") fresh.checked = old.checked;
    else fresh.value = old.value;
  }
  // The one-time submission token is a hidden field without an id: keep the
  // old one, so that a form sent before the switch is still the same form.
  const token = from.elements.namedItem("submission");
  const freshToken = to.querySelector("input[name=submission]");
  if (token && freshToken) freshToken.value = token.value;
}

/**
 * Show the same form in the language of ``button`` (a language button of
 * ``form``), keeping everything typed and chosen. Resolves with the new
 * form element, or rejects (nothing on the page has changed then).
 */
export async function switchLanguage(form, button) {
  const url = button.formAction;
  if (new URL(url, document.baseURI).origin !== window.location.origin) throw new Error("origin");
  const response = await fetch(url, {
    method: "GET",
    credentials: "same-origin",
    cache: "no-store",
    redirect: "error",
    headers: { Accept: "text/html" },
  });
  if (!response.ok) throw new Error(`status ${response.status}`);
  const next = new DOMParser().parseFromString(await response.text(), "text/html");
  const parts = ["header.site", "main", "footer.site"].map((selector) => [
    document.querySelector(selector),
    next.querySelector(selector),
  ]);
  const nextForm = next.querySelector(`form#${CSS.escape(form.id)}`);
  if (!nextForm || parts.some(([old, fresh]) => !old || !fresh)) throw new Error("unexpected page");
  // Scripts of the fetched page never run (DOMParser), and the bundle is
  // loaded already: drop them rather than carry inert copies.
  for (const script of next.querySelectorAll("script")) script.remove();
  const adopted = parts.map(([old, fresh]) => [old, document.adoptNode(fresh)]);
  carryValues(form, nextForm);
  const oldFiles = form.querySelector("input[type=file]");
  const freshFiles = nextForm.querySelector("input[type=file]");
  if (oldFiles && freshFiles && oldFiles.id === freshFiles.id) {
    // Moving the element within this document keeps its chosen files; the
    // new page's labels and hints point at the same id.
    for (const name of ["aria-describedby", "aria-invalid"]) {
      if (freshFiles.hasAttribute(name)) oldFiles.setAttribute(name, freshFiles.getAttribute(name));
      else oldFiles.removeAttribute(name);
    }
    freshFiles.replaceWith(oldFiles);
  }
  document.documentElement.lang = next.documentElement.lang;
  document.documentElement.dir = next.documentElement.dir;
  document.title = next.title;
  for (const [old, fresh] of adopted) old.replaceWith(fresh);
  window.history.replaceState(null, "", url);
  return nextForm;
}
