// Run: npm test (node --test). The pure helpers of src/app.js, offline.
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {test} from 'node:test';

import {
  APP_URL, buildRequest, callApp, errorCode, lookupBody, newKey, progressMessage, redeemBody, validPoints,
} from '../src/app.js';

test('a scan is a card code; typed 12 digits a member number; a phone a phone', () => {
  assert.deepEqual(lookupBody('123456789012', true), {code: '123456789012'});
  assert.deepEqual(lookupBody(' 1234-5678-9012 ', false), {member_number: '1234-5678-9012'});
  assert.deepEqual(lookupBody('０９０−１２３４−５６７８', false), {phone: '090-1234-5678'});
  assert.deepEqual(lookupBody('+81 90 1234 5678', false), {phone: '+81 90 1234 5678'});
  assert.deepEqual(lookupBody('PC-0042', false), {code: 'PC-0042'});
  assert.equal(lookupBody('   ', false), null);
  assert.equal(lookupBody('x'.repeat(65), true), null);
});

test('requests carry the token as a bearer and JSON bodies', () => {
  const [url, init] = buildRequest('/redemptions', redeemBody('123456789012', 500, 'k-1'), 'tok');
  assert.equal(url, `${APP_URL}/pos/api/redemptions`);
  assert.equal(init.method, 'POST');
  assert.equal(init.headers.Authorization, 'Bearer tok');
  assert.deepEqual(JSON.parse(init.body), {member_number: '123456789012', points: 500, key: 'k-1'});
});

test('APP_URL is the application_url of shopify.app.toml', () => {
  const toml = readFileSync(new URL('../../../shopify.app.toml', import.meta.url), 'utf8');
  const url = /^application_url\s*=\s*"([^"]+)"/m.exec(toml)[1];
  assert.equal(APP_URL, url.replace(/\/$/, ''));
});

test('points must be whole steps within the balance', () => {
  assert.ok(validPoints(300, 100, 800));
  assert.ok(!validPoints(150, 100, 800));
  assert.ok(!validPoints(900, 100, 800));
  assert.ok(!validPoints(0, 100, 800));
  assert.ok(!validPoints(1.5, 1, 800));
});

test('callApp: no token, network failure, error codes, success', async () => {
  const reply = (ok, status, body) => async () => ({ok, status, json: async () => body});
  assert.deepEqual(await callApp(reply(true, 200, {}), async () => undefined, '/x', {}), {
    ok: false, error: 'no_permission', data: null,
  });
  const down = async () => { throw new TypeError('offline'); };
  assert.equal((await callApp(down, async () => 't', '/x', {})).error, 'network');
  const refused = await callApp(reply(false, 422, {error: 'mismatch', failures_left: 2}), async () => 't', '/x', {});
  assert.equal(refused.error, 'mismatch');
  assert.equal(refused.data.failures_left, 2);
  const odd = await callApp(reply(false, 500, {error: '<script>'}), async () => 't', '/x', {});
  assert.equal(odd.error, 'generic');
  const seen = [];
  const ok = await callApp(async (url, init) => { seen.push([url, init]); return {ok: true, status: 200, json: async () => ({members: []})}; },
    async () => 'tok', '/members/lookup', {code: 'a'});
  assert.deepEqual(ok, {ok: true, data: {members: []}});
  assert.equal(seen[0][1].headers.Authorization, 'Bearer tok');
});

test('every error code has a message in both locales', () => {
  for (const file of ['en.default.json', 'ja.json']) {
    const messages = JSON.parse(readFileSync(new URL(`../locales/${file}`, import.meta.url), 'utf8'));
    for (const code of ['unauthorized', 'no_permission', 'network', 'generic', 'mismatch', 'limited']) {
      assert.ok(messages.errors[code], `${file}: errors.${code}`);
    }
    assert.equal(errorCode({error: 'busy'}), 'busy');
  }
});

test('locales have the same keys', () => {
  const keys = (o, p = '') => Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' ? keys(v, `${p}${k}.`) : [`${p}${k}`]));
  const en = JSON.parse(readFileSync(new URL('../locales/en.default.json', import.meta.url), 'utf8'));
  const ja = JSON.parse(readFileSync(new URL('../locales/ja.json', import.meta.url), 'utf8'));
  assert.deepEqual(keys(ja).sort(), keys(en).sort());
});

test('progress picks the message for the basis', () => {
  assert.deepEqual(progressMessage({basis: 'spend', next: 'gold', remaining: '18000'}), [
    'member.progress_spend', {rank: 'gold', amount: '18000'},
  ]);
  assert.deepEqual(progressMessage({basis: 'count', next: 'gold', remaining: '2'}), [
    'member.progress_count', {rank: 'gold', count: '2'},
  ]);
  assert.deepEqual(progressMessage({basis: 'points', next: null, remaining: null}), ['member.progress_top', {}]);
});

test('request keys are unique UUIDs', () => {
  const a = newKey();
  assert.match(a, /^[0-9a-f-]{36}$/);
  assert.notEqual(a, newKey());
});
