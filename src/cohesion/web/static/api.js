// Calls to Cohésion's HTTP API from the pages.

/**
 * GET a JSON answer of the API. A refusal (4xx, 5xx) throws an Error carrying the
 * API's own message (« paramètre invalide … »), which the pages show as it is.
 */
export async function getJson(url) {
  const response = await fetch(url);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ?? `erreur ${response.status}`);
  return body;
}
