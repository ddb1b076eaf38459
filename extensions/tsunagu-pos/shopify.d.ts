// The `shopify` global of each target, typed as Shopify CLI's generated shopify.d.ts does for POS extensions.
import '@shopify/ui-extensions/preact';

//@ts-ignore
declare module './src/Tile.tsx' {
  const shopify: import('@shopify/ui-extensions/pos.home.tile.render').Api;
  const globalThis: {shopify: typeof shopify};
}

//@ts-ignore
declare module './src/Modal.tsx' {
  const shopify: import('@shopify/ui-extensions/pos.home.modal.render').Api;
  const globalThis: {shopify: typeof shopify};
}
