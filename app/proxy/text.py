"""Japanese and English for the storefront pages (the shopper's language, not the merchant's)."""

from __future__ import annotations

from flask import request

TEXT: dict[str, dict] = {
    "ja": {
        "title": "会員証",
        "member_number": "会員番号",
        "rank": "ランク",
        "points_available": "利用可能ポイント",
        "points_pending": "仮ポイント",
        "expiring": "{points} ポイントが {date} に失効します",
        "show_at_register": "レジでこのバーコードをご提示ください",
        "store_purchases": "店舗でのお買い物",
        "no_store_purchases": "店舗でのお買い物はまだありません",
        "refunded": "返品あり",
        "points_suffix": "pt",
        "link_card": "紙の会員カードをお持ちの方",
        "card_number": "カード番号",
        "phone": "電話番号",
        "link_button": "連携する",
        "linked": "会員カードを連携しました",
        "link_failed": "カード番号または電話番号が一致しません",
        "link_pending": "確認のため、スタッフが連携を承認するまでお待ちください",
        "link_limited": "試行回数が多すぎます。時間をおいてお試しください",
        "line": "LINEで来店のお礼を受け取る",
        "line_help": "LINEが開いたら、そのままメッセージを送信してください",
        "login": "会員証を表示するにはログインしてください",
        "login_button": "ログイン",
        "ranks": {"regular": "レギュラー", "silver": "シルバー", "gold": "ゴールド", "platinum": "プラチナ"},
    },
    "en": {
        "title": "Member card",
        "member_number": "Member number",
        "rank": "Rank",
        "points_available": "Points available",
        "points_pending": "Points pending",
        "expiring": "{points} points expire on {date}",
        "show_at_register": "Show this barcode at the register",
        "store_purchases": "Store purchases",
        "no_store_purchases": "No store purchases yet",
        "refunded": "returned",
        "points_suffix": "pt",
        "link_card": "Have a paper member card?",
        "card_number": "Card number",
        "phone": "Phone number",
        "link_button": "Link card",
        "linked": "Your member card is linked",
        "link_failed": "The card number or phone number does not match",
        "link_pending": "Thanks: staff will confirm the link shortly",
        "link_limited": "Too many attempts. Please try again later",
        "line": "Get thank-you messages on LINE",
        "line_help": "When LINE opens, just send the message",
        "login": "Please log in to see your member card",
        "login_button": "Log in",
        "ranks": {"regular": "Regular", "silver": "Silver", "gold": "Gold", "platinum": "Platinum"},
    },
}


def language() -> str:
    """`lang` parameter (signed with the rest), else Accept-Language, else Japanese."""
    asked = request.args.get("lang") or request.form.get("lang")
    if asked in TEXT:
        return asked
    best = request.accept_languages.best_match(["ja", "en"])
    return best or "ja"
