"""Reference data for the demo retailer: Japanese names, stores, products and contact formats."""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass

# (kanji, romaji) pairs; frequent surnames first so weighted picks look like a Japanese customer list.
SURNAMES = [
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("田中", "tanaka"),
    ("伊藤", "ito"),
    ("渡辺", "watanabe"),
    ("山本", "yamamoto"),
    ("中村", "nakamura"),
    ("小林", "kobayashi"),
    ("加藤", "kato"),
    ("吉田", "yoshida"),
    ("山田", "yamada"),
    ("佐々木", "sasaki"),
    ("山口", "yamaguchi"),
    ("松本", "matsumoto"),
    ("井上", "inoue"),
    ("木村", "kimura"),
    ("林", "hayashi"),
    ("斎藤", "saito"),
    ("清水", "shimizu"),
    ("山崎", "yamazaki"),
    ("森", "mori"),
    ("池田", "ikeda"),
    ("橋本", "hashimoto"),
    ("阿部", "abe"),
    ("石川", "ishikawa"),
    ("山下", "yamashita"),
    ("中島", "nakajima"),
    ("石井", "ishii"),
    ("小川", "ogawa"),
    ("前田", "maeda"),
    ("岡田", "okada"),
    ("長谷川", "hasegawa"),
    ("藤田", "fujita"),
    ("後藤", "goto"),
    ("近藤", "kondo"),
    ("村上", "murakami"),
    ("遠藤", "endo"),
    ("青木", "aoki"),
    ("坂本", "sakamoto"),
    ("斉藤", "saito"),
    ("福田", "fukuda"),
    ("太田", "ota"),
    ("西村", "nishimura"),
    ("藤井", "fujii"),
    ("金子", "kaneko"),
    ("岡本", "okamoto"),
    ("藤原", "fujiwara"),
    ("中野", "nakano"),
    ("三浦", "miura"),
    ("原田", "harada"),
    ("中川", "nakagawa"),
    ("松田", "matsuda"),
    ("竹内", "takeuchi"),
    ("小野", "ono"),
    ("田村", "tamura"),
    ("中山", "nakayama"),
    ("和田", "wada"),
    ("石田", "ishida"),
    ("上田", "ueda"),
]
FEMALE_NAMES = [
    ("陽菜", "hina"),
    ("結衣", "yui"),
    ("さくら", "sakura"),
    ("美咲", "misaki"),
    ("葵", "aoi"),
    ("花子", "hanako"),
    ("優子", "yuko"),
    ("恵", "megumi"),
    ("愛", "ai"),
    ("真由美", "mayumi"),
    ("由美子", "yumiko"),
    ("明美", "akemi"),
    ("彩", "aya"),
    ("芽衣", "mei"),
    ("凛", "rin"),
    ("結菜", "yuna"),
    ("奈々", "nana"),
    ("千尋", "chihiro"),
    ("智子", "tomoko"),
    ("久美子", "kumiko"),
    ("京子", "kyoko"),
    ("麻衣", "mai"),
    ("舞", "mai"),
    ("沙織", "saori"),
    ("香織", "kaori"),
]
MALE_NAMES = [
    ("翔太", "shota"),
    ("大輝", "daiki"),
    ("蓮", "ren"),
    ("悠真", "yuma"),
    ("湊", "minato"),
    ("太郎", "taro"),
    ("健太", "kenta"),
    ("拓也", "takuya"),
    ("大輔", "daisuke"),
    ("誠", "makoto"),
    ("浩", "hiroshi"),
    ("隆", "takashi"),
    ("直樹", "naoki"),
    ("亮", "ryo"),
    ("翼", "tsubasa"),
    ("陸", "riku"),
    ("颯太", "sota"),
    ("和也", "kazuya"),
    ("健一", "kenichi"),
    ("修", "osamu"),
    ("剛", "tsuyoshi"),
    ("学", "manabu"),
    ("達也", "tatsuya"),
    ("雄一", "yuichi"),
    ("洋平", "yohei"),
]
# Reserved example domains only: the demo must never address a real mailbox.
EMAIL_DOMAINS = [
    ("example.jp", 4),
    ("example.co.jp", 2),
    ("example.ne.jp", 3),
    ("example.com", 2),
    ("example.org", 1),
]


@dataclass(frozen=True)
class Store:
    """A retail location selling through Shopify POS."""

    id: int
    name: str
    weight: float
    address1: str
    city: str
    province: str
    zip: str


STORES = [
    Store(74_100_000_001, "渋谷店", 0.45, "神南1-12-3", "渋谷区", "東京都", "150-0041"),
    Store(74_100_000_002, "梅田店", 0.35, "梅田3-1-1", "大阪市北区", "大阪府", "530-0001"),
    Store(74_100_000_003, "福岡天神店", 0.20, "天神2-5-5", "福岡市中央区", "福岡県", "810-0001"),
]

# (title, JPY price incl. 10 % consumption tax, popularity weight)
PRODUCTS = [
    ("オーガニックコットンTシャツ", 3_900, 10), ("ボーダーカットソー", 4_900, 6), ("リネンシャツ", 8_900, 5),
    ("オックスフォードシャツ", 7_900, 5), ("デニムパンツ", 12_800, 4), ("チノパンツ", 9_800, 4),
    ("ウールニット", 14_800, 3), ("カシミヤストール", 16_500, 2), ("ダウンジャケット", 29_800, 1),
    ("トレンチコート", 34_800, 1), ("レザースニーカー", 19_800, 2), ("キャンバススニーカー", 6_900, 3),
    ("トートバッグ", 4_800, 5), ("レザーウォレット", 13_200, 2), ("キャップ", 3_300, 4),
    ("ソックス 3足セット", 1_500, 9), ("ハンドタオル", 990, 8), ("マグカップ", 2_200, 5),
    ("アロマキャンドル", 3_300, 4), ("ルームウェア上下セット", 8_800, 3), ("ヘアゴム", 660, 6),
    ("エコバッグ", 1_980, 6), ("ストレッチスカート", 7_700, 3), ("ワンピース", 11_000, 3),
]  # fmt: skip

PREFECTURES = [
    ("東京都", "渋谷区", "150-0002"),
    ("東京都", "世田谷区", "154-0004"),
    ("神奈川県", "横浜市西区", "220-0011"),
    ("大阪府", "大阪市北区", "530-0011"),
    ("大阪府", "吹田市", "564-0027"),
    ("兵庫県", "神戸市中央区", "650-0021"),
    ("福岡県", "福岡市中央区", "810-0021"),
    ("福岡県", "北九州市小倉北区", "802-0001"),
    ("愛知県", "名古屋市中村区", "450-0002"),
    ("北海道", "札幌市中央区", "060-0001"),
    ("宮城県", "仙台市青葉区", "980-0021"),
    ("京都府", "京都市下京区", "600-8216"),
]


def mobile_digits(rng: random.Random) -> str:
    """A Japanese mobile number in national form, e.g. 09012345678."""
    return rng.choice(["090", "080", "070"]) + f"{rng.randrange(10**8):08d}"


def format_phone(national: str, style: str) -> str:
    """One way people type the same number: hyphenated, bare, or international."""
    a, b, c = national[:3], national[3:7], national[7:]
    return {
        "hyphen": f"{a}-{b}-{c}",
        "bare": national,
        "intl_spaced": f"+81 {a[1:]}-{b}-{c}",
        "e164": f"+81{national[1:]}",
    }[style]


PHONE_STYLES = [("hyphen", 40), ("bare", 30), ("intl_spaced", 15), ("e164", 15)]


class Weighted:
    """A fixed table of (value, weight) pairs to draw from; built once, drawn from millions of times."""

    def __init__(self, pairs: list[tuple[object, float]]) -> None:
        self.values = [value for value, _ in pairs]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))

    def pick(self, rng: random.Random):
        """One value, with probability proportional to its weight."""
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


def weighted(rng: random.Random, pairs: list[tuple[object, float]]):
    """Pick the first element of one (value, weight) pair (for tables built on the fly)."""
    return Weighted(pairs).pick(rng)


def email_for(rng: random.Random, given: str, last: str) -> str:
    """A plausible address for the name at a reserved example domain."""
    domain = EMAIL_DOMAIN_TABLE.pick(rng)
    local = weighted(
        rng,
        [
            (f"{given}.{last}", 4),
            (f"{last}_{given}", 2),
            (f"{given}{rng.randrange(1, 100)}", 3),
            (f"{given[0]}{last}{rng.randrange(70, 100):02d}", 2),
        ],
    )
    return f"{local}@{domain}"


EMAIL_DOMAIN_TABLE = Weighted(EMAIL_DOMAINS)
SURNAME_TABLE = Weighted([(name, len(SURNAMES) - rank) for rank, name in enumerate(SURNAMES)])
PHONE_STYLE_TABLE = Weighted(PHONE_STYLES)
STORE_TABLE = Weighted([(store, store.weight) for store in STORES])
