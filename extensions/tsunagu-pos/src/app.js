// Pure helpers of the POS extension: which lookup a typed or scanned value is, how calls to the app are built
// and read, which locale key an error shows. No POS API here, so `node --test` runs them (test/app.test.js).

/** The app's URL: shopify.app.toml's application_url (test/app.test.js keeps the two equal). */
export const APP_URL = 'https://tsunagu.example.com';

const MEMBER_NUMBER = /^\d{12}$/; // 11 digits + a Damm check digit (app/domain/identity.py)
const PHONE_LIKE = /^\+?[\d\s()-]{10,16}$/;

/**
 * The lookup body for what staff typed or scanned. A scan is a card code (the member card's barcode/QR holds
 * the member number; a paper card holds its own code): the app tries both. Typed: 12 digits is a member
 * number, a phone-like value a phone, anything else a card code.
 * @param {string} raw
 * @param {boolean} scanned
 * @returns {{code: string} | {member_number: string} | {phone: string} | null}
 */
export function lookupBody(raw, scanned) {
  // NFKC folds full-width digits; dashes typed on a Japanese keyboard (U+2010-2015, U+2212, U+30FC) too.
  const value = String(raw ?? '').normalize('NFKC').replace(/[\u2010-\u2015\u2212\u30fc]/g, '-').trim();
  if (!value || value.length > 64) return null;
  if (scanned) return {code: value};
  if (MEMBER_NUMBER.test(value.replace(/[\s-]/g, ''))) return {member_number: value};
  if (PHONE_LIKE.test(value)) return {phone: value};
  return {code: value};
}

/**
 * A redemption request body; `key` makes a retry (lost response, double tap) return the same code.
 * @param {string} memberNumber
 * @param {number} points
 * @param {string} key
 */
export function redeemBody(memberNumber, points, key) {
  return {member_number: memberNumber, points, key};
}

/**
 * Whether `points` can be asked for: a positive whole multiple of the shop's step, within the balance.
 * @param {number} points
 * @param {number} step
 * @param {number} available
 */
export function validPoints(points, step, available) {
  return Number.isInteger(points) && points > 0 && points % Math.max(step, 1) === 0 && points <= available;
}

/**
 * The fetch arguments for an app endpoint, with the POS session token as a bearer token.
 * @param {string} path e.g. "/members/lookup"
 * @param {unknown} body
 * @param {string} token
 * @returns {[string, {method: string, headers: Record<string, string>, body: string}]}
 */
export function buildRequest(path, body, token) {
  return [
    `${APP_URL}/pos/api${path}`,
    {
      method: 'POST',
      headers: {Authorization: `Bearer ${token}`, 'Content-Type': 'application/json'},
      body: JSON.stringify(body),
    },
  ];
}

/**
 * @typedef {{ok: true, data: any} | {ok: false, error: string, data: any}} AppResult
 */

/**
 * Call the app: a fresh session token for each call (getSessionToken caches while valid), JSON both ways.
 * @param {(url: string, init: any) => Promise<{ok: boolean, status: number, json: () => Promise<any>}>} fetchImpl
 * @param {() => Promise<string | undefined | null>} getToken
 * @param {string} path
 * @param {unknown} body
 * @returns {Promise<AppResult>}
 */
export async function callApp(fetchImpl, getToken, path, body) {
  const token = await getToken();
  // POS returns no token when the logged-in user lacks the app permission (Session API).
  if (!token) return {ok: false, error: 'no_permission', data: null};
  let response;
  try {
    response = await fetchImpl(...buildRequest(path, body, token));
  } catch {
    return {ok: false, error: 'network', data: null};
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.ok) return {ok: true, data};
  return {ok: false, error: errorCode(data), data};
}

const KNOWN_ERRORS = new Set([
  'unauthorized', 'not_found', 'bad_request', 'bad_amount', 'not_enough_points', 'no_customer', 'busy',
  'key_reused', 'shopify_refused', 'creating', 'shopify_unavailable', 'unknown_card', 'unknown_member',
  'mismatch', 'limited', 'no_factor', 'other_customer',
]);

/** @param {any} data */
export function errorCode(data) {
  const code = data && typeof data.error === 'string' ? data.error : '';
  return KNOWN_ERRORS.has(code) ? code : 'generic';
}

/**
 * The locale key and values for a member's progress line (the extension's translate() writes it).
 * @param {{basis: string, next: string | null, remaining: string | null}} progress
 * @returns {[string, Record<string, string>]}
 */
export function progressMessage(progress) {
  if (!progress.next || progress.remaining === null) return ['member.progress_top', {}];
  const rank = progress.next;
  if (progress.basis === 'spend') return ['member.progress_spend', {rank, amount: progress.remaining}];
  const count = String(Math.ceil(Number(progress.remaining)));
  return [progress.basis === 'points' ? 'member.progress_points' : 'member.progress_count', {rank, count}];
}

/** A random request key (UUID), made once per redemption attempt and reused on its retries. */
export function newKey() {
  return globalThis.crypto.randomUUID();
}
