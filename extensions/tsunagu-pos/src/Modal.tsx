import {render} from 'preact';
import {useEffect, useState} from 'preact/hooks';

import {callApp, lookupBody, newKey, progressMessage, redeemBody, validPoints} from './app.js';

// The modal (pos.home.modal.render): find a member (scanner or typed), show rank/points/progress, spend
// points as a code added to the cart, link a paper card. Every call carries a fresh POS session token
// (shopify.session.getSessionToken, https://shopify.dev/docs/api/pos-ui-extensions/2026-07/target-apis/standard-apis/session-api).
export default async () => {
  render(<Extension />, document.body);
};

type Summary = {
  member_number: string;
  rank: string;
  points: {available: number; pending: number; expiring_soon: number; expiring_on: string | null};
  progress: {basis: string; next: string | null; remaining: string | null; share: number};
  line_linked: boolean;
  customer_id: number | null;
  currency: string;
};

const t = (key: string, values?: Record<string, string | number>) => shopify.i18n.translate(key, values);
const num = (n: number) => shopify.i18n.formatNumber(n);
const call = (path: string, body: unknown) =>
  callApp((url, init) => fetch(url, init), () => shopify.session.getSessionToken(), path, body);

function Extension() {
  const [query, setQuery] = useState('');
  const [members, setMembers] = useState<Summary[]>([]);
  const [member, setMember] = useState<Summary | null>(null);
  const [step, setStep] = useState(1);
  const [message, setMessage] = useState<{tone: 'critical' | 'success'; text: string} | null>(null);
  const [busy, setBusy] = useState(false);

  const fail = (error: string, data: any) =>
    setMessage({tone: 'critical', text: t(`errors.${error}`, {left: data?.failures_left ?? 0})});

  async function lookup(raw: string, scanned: boolean) {
    const body = lookupBody(raw, scanned);
    if (!body) return;
    setBusy(true);
    setMessage(null);
    const result = await call('/members/lookup', body);
    setBusy(false);
    if (!result.ok) return fail(result.error, result.data);
    setStep(result.data.redeem_step || 1);
    setMembers(result.data.members);
    setMember(result.data.members.length === 1 ? result.data.members[0] : null);
  }

  // A scan (camera or a connected scanner) looks the code up straight away.
  useEffect(
    () =>
      shopify.scanner.scannerData.current.subscribe(({data}) => {
        if (data) void lookup(data, true);
      }),
    [],
  );

  if (member) {
    return (
      <MemberPage
        member={member}
        step={step}
        message={message}
        setMessage={setMessage}
        fail={fail}
        reload={() => lookup(member.member_number, false)}
        back={() => {
          setMember(null);
          setMembers([]);
          setMessage(null);
        }}
      />
    );
  }
  return (
    <s-page heading={t('search.heading')}>
      <s-scroll-box>
        <s-stack direction="block" gap="base" padding="base">
          {message && <s-banner tone={message.tone} heading={message.text} />}
          <s-text-field
            label={t('search.label')}
            value={query}
            onInput={(event) => setQuery(event.currentTarget.value ?? "")}
          />
          <s-button variant="primary" disabled={busy} onClick={() => lookup(query, false)}>
            {t('search.submit')}
          </s-button>
          <s-button onClick={() => shopify.scanner.showCameraScanner()}>{t('search.scan')}</s-button>
          {members.length > 1 && <s-text>{t('search.choose')}</s-text>}
          {members.length > 1 &&
            members.map((m) => (
              <s-button key={m.member_number} onClick={() => setMember(m)}>
                {t('member.number', {number: m.member_number})}
              </s-button>
            ))}
        </s-stack>
      </s-scroll-box>
    </s-page>
  );
}

type PageProps = {
  member: Summary;
  step: number;
  message: {tone: 'critical' | 'success'; text: string} | null;
  setMessage: (m: {tone: 'critical' | 'success'; text: string} | null) => void;
  fail: (error: string, data: any) => void;
  reload: () => void;
  back: () => void;
};

function MemberPage({member, step, message, setMessage, fail, reload, back}: PageProps) {
  const [points, setPoints] = useState('');
  const [key, setKey] = useState(newKey());
  const [card, setCard] = useState('');
  const [factor, setFactor] = useState('');
  const [busy, setBusy] = useState(false);
  const [progressKey, progressValues] = progressMessage(member.progress);

  async function redeem() {
    const wanted = Number(points);
    if (!validPoints(wanted, step, member.points.available)) return fail('bad_amount', null);
    setBusy(true);
    const result = await call('/redemptions', redeemBody(member.member_number, wanted, key));
    if (!result.ok) {
      setBusy(false);
      return fail(result.error, result.data);
    }
    const {code} = result.data;
    try {
      // The code is bound to the member's Shopify customer: put that customer on the cart, then the code
      // (Cart API setCustomer / addCartCodeDiscount, https://shopify.dev/docs/api/pos-ui-extensions/2026-07/target-apis/contextual-apis/cart-api).
      if (member.customer_id) await shopify.cart.setCustomer({id: member.customer_id});
      await shopify.cart.addCartCodeDiscount(code);
      setMessage({tone: 'success', text: t('redeem.done', {points: num(wanted), code})});
      shopify.toast.show(t('redeem.done', {points: num(wanted), code}));
    } catch {
      setMessage({tone: 'critical', text: t('redeem.cart_failed', {code})});
    }
    setKey(newKey()); // the next redemption is a new request
    setPoints('');
    setBusy(false);
    reload();
  }

  async function link() {
    setBusy(true);
    const result = await call('/cards/link', {card, member_number: member.member_number, factor});
    setBusy(false);
    if (!result.ok) return fail(result.error, result.data);
    const done = result.data.outcome === 'already' ? 'card.already' : 'card.done';
    setMessage({tone: 'success', text: t(done, {number: result.data.member_number})});
    setCard('');
    setFactor('');
    reload();
  }

  return (
    <s-page heading={t('member.number', {number: member.member_number})}>
      <s-scroll-box>
        <s-stack direction="block" gap="base" padding="base">
          {message && <s-banner tone={message.tone} heading={message.text} />}
          <s-section>
            <s-text type="strong">{t('member.rank', {rank: member.rank})}</s-text>
            <s-text>{t(progressKey, progressValues)}</s-text>
            <s-text>{t('member.available', {points: num(member.points.available)})}</s-text>
            <s-text color="subdued">{t('member.pending', {points: num(member.points.pending)})}</s-text>
            {member.points.expiring_soon > 0 && member.points.expiring_on && (
              <s-text tone="warning">
                {t('member.expiring', {points: num(member.points.expiring_soon), date: member.points.expiring_on})}
              </s-text>
            )}
            <s-badge tone={member.line_linked ? 'success' : 'neutral'}>
              {t(member.line_linked ? 'member.line_linked' : 'member.line_not_linked')}
            </s-badge>
          </s-section>
          <s-section heading={t('redeem.heading')}>
            <s-number-field
              label={t('redeem.label', {step: num(step)})}
              value={points}
              onInput={(event) => setPoints(event.currentTarget.value ?? "")}
            />
            <s-button variant="primary" disabled={busy || !member.customer_id} onClick={redeem}>
              {t('redeem.submit')}
            </s-button>
          </s-section>
          <s-section heading={t('card.heading')}>
            <s-text-field label={t('card.card_label')} value={card} onInput={(e) => setCard(e.currentTarget.value ?? "")} />
            <s-text-field
              label={t('card.factor_label')}
              value={factor}
              onInput={(e) => setFactor(e.currentTarget.value ?? "")}
            />
            <s-button disabled={busy || !card || !factor} onClick={link}>
              {t('card.submit')}
            </s-button>
          </s-section>
          <s-button onClick={back}>{t('member.back')}</s-button>
        </s-stack>
      </s-scroll-box>
    </s-page>
  );
}
