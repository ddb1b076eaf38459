import {render} from 'preact';

// The smart-grid tile: opens the modal (https://shopify.dev/docs/api/pos-ui-extensions/2026-07, pos.home.tile.render).
export default async () => {
  render(<Extension />, document.body);
};

function Extension() {
  const t = shopify.i18n.translate;
  return (
    <s-tile
      heading={t('tile.heading')}
      subheading={t('tile.subheading')}
      onClick={() => shopify.action.presentModal()}
    />
  );
}
